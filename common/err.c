/* err.c: text for the project's error codes. */
#include "err.h"

const char *
toll_strerror(int err)
{
	switch (err) {
#define TOLL_ERR_CASE(name, value, text) \
	case (value):                    \
		return (text);
		TOLL_ERRORS(TOLL_ERR_CASE)
#undef TOLL_ERR_CASE
	}
	return "unknown error";
}
