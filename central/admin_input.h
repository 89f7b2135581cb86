/* admin_input.h: toll-admin's checks of what operators type.  Every
 * argument is parsed with its bounds; anything else gets a message that
 * names the argument, the value and what is wanted ("plate 'ab': want 1-12
 * of 0-9 A-Z . - and space").  Each returns 0, or TOLL_EINVAL / TOLL_ERANGE
 * with the message in err. */
#ifndef CENTRAL_ADMIN_INPUT_H
#define CENTRAL_ADMIN_INPUT_H

#include <stddef.h>
#include <stdint.h>

#define ADMIN_TEXT_MAX 200	 /* bytes in a name or a free-text reason */
#define ADMIN_PLATE_MAX 12
#define ADMIN_EPC_HEX_MAX 64	 /* 256 bits */
#define ADMIN_TID_HEX 24	 /* 96 bits */
#define ADMIN_PUBKEY_HEX 64	 /* Ed25519 public key */
#define ADMIN_KEYID_HEX 8	 /* first 4 bytes of SHA-256 of the public key */
#define ADMIN_TIME_MAX 40	 /* bytes in an ISO 8601 time */
#define ADMIN_ZONE_NAME_MAX 64	 /* bytes in a time zone name */

/* Plain decimal digits (no sign, no blanks, no separators), min..max. */
int admin_parse_u64(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *out,
		    char *err, size_t errlen);
/* A reason code: 1..255, or blacklisted, stolen, closed, replaced. */
int admin_parse_reason(const char *s, unsigned *out, char *err, size_t errlen);
/* The name of a reason code ("stolen"), or "" for codes without one. */
const char *admin_reason_name(unsigned reason);
/* Hex digits, min_digits..max_digits of them, either case; out (max_digits
 * + 1 bytes) gets them in lowercase. */
int admin_parse_hex(const char *what, const char *s, size_t min_digits, size_t max_digits, char *out,
		    char *err, size_t errlen);
/* ^[0-9A-Z.\- ]{1,12}$, as vehicles.plate. */
int admin_check_plate(const char *s, char *err, size_t errlen);
/* Text for names and reasons: valid UTF-8 without control characters,
 * at most max_bytes bytes; empty only when allow_empty. */
int admin_check_text(const char *what, const char *s, size_t max_bytes, int allow_empty, char *err,
		     size_t errlen);
/* Text of several lines (a tariff): valid UTF-8 without control
 * characters but tab, CR and LF, and no NUL in its len bytes. */
int admin_check_lines(const char *what, const char *s, size_t len, char *err, size_t errlen);
/* ISO 8601 date and time with an explicit zone, which PostgreSQL's
 * timestamptz input reads the same way whatever the session's TimeZone:
 * YYYY-MM-DD(T| )HH:MM[:SS[.F{1,6}]](Z|+HH[:MM]|-HH[:MM]).  Field ranges
 * are checked here; the day of the month against the calendar by the
 * database. */
int admin_check_time(const char *what, const char *s, char *err, size_t errlen);
/* YYYY-MM-DD, a day of the calendar from 2000 to 9998; out gets it as
 * given. */
int admin_parse_day(const char *what, const char *s, char out[11], char *err, size_t errlen);
/* A time zone name as the tz database spells them (Asia/Ho_Chi_Minh,
 * UTC, Etc/GMT+7): letters, digits, / _ - +, 1-64 bytes.  Whether the
 * database knows it is asked there. */
int admin_check_zone_name(const char *what, const char *s, char *err, size_t errlen);

#endif
