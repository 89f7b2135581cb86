/* err.h: the project's error codes and their text.
 *
 * Functions return 0 or a negative TOLL_E* code; the text comes from
 * toll_strerror().  Errors from a foreign library are translated into these
 * codes in exactly one file per library. */
#ifndef TOLL_ERR_H
#define TOLL_ERR_H

/* X(NAME, value, text) */
#define TOLL_ERRORS(X)                                                     \
	X(TOLL_OK, 0, "success")                                           \
	X(TOLL_ENOMEM, -1, "out of memory")                                \
	X(TOLL_EINVAL, -2, "invalid argument")                             \
	X(TOLL_ESHORT, -3, "input truncated")                              \
	X(TOLL_ENOSPACE, -4, "output buffer too small")                    \
	X(TOLL_ECRC, -5, "checksum mismatch")                              \
	X(TOLL_EFORMAT, -6, "malformed input")                             \
	X(TOLL_ERANGE, -7, "value out of range")                           \
	X(TOLL_EVERSION, -8, "unsupported format version")                 \
	X(TOLL_ESYS, -9, "system call failed")                             \
	X(TOLL_ETIMEDOUT, -10, "timed out")                                \
	X(TOLL_ENOTFOUND, -11, "not found")                                \
	X(TOLL_EEXIST, -12, "already exists")                              \
	X(TOLL_EBUSY, -13, "resource busy")                                \
	X(TOLL_EMODBUS, -14, "modbus error")                               \
	X(TOLL_EEXCEPTION, -15, "modbus exception from device")            \
	X(TOLL_ECONFIG, -16, "invalid configuration")                      \
	X(TOLL_EEMPTY, -17, "nothing there")                               \
	X(TOLL_ECLOSED, -18, "connection closed")                          \
	X(TOLL_EBADSIG, -19, "signature does not verify")                  \
	X(TOLL_ECRYPTO, -20, "cryptographic library error")                \
	X(TOLL_ECORRUPT, -21, "stored data corrupted")                     \
	X(TOLL_EFULL, -22, "storage full")                                 \
	X(TOLL_ECHAIN, -23, "hash chain broken")                           \
	X(TOLL_ESEQ, -24, "sequence out of order")                         \
	X(TOLL_EPERM, -25, "permission denied")                            \
	X(TOLL_EAGAIN, -26, "temporary failure, try again")                \
	X(TOLL_EDB, -27, "database error")

enum toll_err {
#define TOLL_ERR_ENUM(name, value, text) name = (value),
	TOLL_ERRORS(TOLL_ERR_ENUM)
#undef TOLL_ERR_ENUM
};

/* Text for a TOLL_E* code; never NULL. */
const char *toll_strerror(int err);

#include <stddef.h>

/* Format a message into buf (when buf is not NULL) and return code: the
 * parsers' way of giving a clear error with its file and line. */
int toll_errf(char *buf, size_t len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
