/* err.c: text for the project's error codes. */
#include <stdarg.h>
#include <stdio.h>

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

int
toll_errf(char *buf, size_t len, int code, const char *fmt, ...)
{
	va_list ap;

	if (buf != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return code;
}
