/* admin_input.c: see admin_input.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_input.h"
#include "err.h"

#define ECHO_MAX 40

/* The value for a message: printable ASCII kept, other bytes '?', long
 * values cut with "...". */
static const char *
echo(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; s[i] != 0 && o + 4 < len; i++) {
		if (i == ECHO_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		buf[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[o] = 0;
	return buf;
}

int
admin_parse_u64(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
		size_t errlen)
{
	char e[ECHO_MAX + 8];
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			v = UINT64_MAX; /* beyond any max we are given */
			while (s[i + 1] >= '0' && s[i + 1] <= '9')
				i++;
			i++;
			break;
		}
		v = v * 10 + d;
	}
	if (i == 0 || s[i] != 0)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s' is not a number %llu..%llu", what,
				 echo(s, e, sizeof(e)), (unsigned long long)min, (unsigned long long)max);
	if (v < min || v > max)
		return toll_errf(err, errlen, TOLL_ERANGE, "%s %s is out of range %llu..%llu", what,
				 echo(s, e, sizeof(e)), (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

/* lane_taglist.h's reason codes, by name */
static const char *const reason_names[] = {"", "blacklisted", "stolen", "closed", "replaced"};
#define NREASONS (sizeof(reason_names) / sizeof(reason_names[0]))

const char *
admin_reason_name(unsigned reason)
{
	return reason < NREASONS ? reason_names[reason] : "";
}

int
admin_parse_reason(const char *s, unsigned *out, char *err, size_t errlen)
{
	char e[ECHO_MAX + 8];
	uint64_t v;

	for (unsigned i = 1; i < NREASONS; i++)
		if (strcmp(s, reason_names[i]) == 0) {
			*out = i;
			return 0;
		}
	if (s[0] >= '0' && s[0] <= '9')
		return admin_parse_u64("reason", s, 1, 255, &v, err, errlen) == 0 ? (*out = (unsigned)v, 0)
										 : TOLL_EINVAL;
	return toll_errf(err, errlen, TOLL_EINVAL,
			 "reason '%s': want 1..255 or blacklisted, stolen, closed, replaced",
			 echo(s, e, sizeof(e)));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
admin_parse_hex(const char *what, const char *s, size_t min_digits, size_t max_digits, char *out,
		char *err, size_t errlen)
{
	char e[ECHO_MAX + 8];
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s': '%c' is not a hex digit", what,
					 echo(s, e, sizeof(e)), s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
	if (n < min_digits || n > max_digits) {
		if (min_digits == max_digits)
			return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s': want exactly %zu hex digits, not %zu",
					 what, echo(s, e, sizeof(e)), min_digits, n);
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s': want %zu to %zu hex digits, not %zu", what,
				 echo(s, e, sizeof(e)), min_digits, max_digits, n);
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (char)"0123456789abcdef"[hexval(s[i])];
	out[n] = 0;
	return 0;
}

int
admin_check_plate(const char *s, char *err, size_t errlen)
{
	char e[ECHO_MAX + 8];
	size_t n = strlen(s);
	int ok = n >= 1 && n <= ADMIN_PLATE_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = s[i];
		ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == ' ';
	}
	if (!ok)
		return toll_errf(err, errlen, TOLL_EINVAL,
				 "plate '%s': want 1 to %d of 0-9, A-Z (capitals), '.', '-' and space", echo(s, e, sizeof(e)),
				 ADMIN_PLATE_MAX);
	return 0;
}

/* Length of the UTF-8 sequence at s (1-4, within avail >= 1 bytes), or 0
 * when it is not valid (cut short, overlong forms, surrogates and code
 * points above U+10FFFF included). */
static size_t
utf8_len(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Valid UTF-8 in s[0..len) without control characters; line ends and
 * tabs too when lines is set.  0, or the offset + 1 of the first bad byte
 * with *ctl set when it is a control character. */
static size_t
bad_byte(const char *s, size_t len, int lines, int *ctl)
{
	*ctl = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 || c == 0x7f) && !(lines && (c == '\t' || c == '\n' || c == '\r'))) {
			*ctl = 1;
			return i + 1;
		}
		size_t l = utf8_len((const unsigned char *)s + i, len - i);
		if (l == 0)
			return i + 1;
		i += l;
	}
	return 0;
}

int
admin_check_lines(const char *what, const char *s, size_t len, char *err, size_t errlen)
{
	int ctl;
	size_t at = bad_byte(s, len, 1, &ctl);

	if (at == 0)
		return 0;
	if (ctl)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s: control character 0x%02x at byte %zu", what,
				 (unsigned char)s[at - 1], at);
	return toll_errf(err, errlen, TOLL_EINVAL, "%s: not valid UTF-8 at byte %zu", what, at);
}

int
admin_check_text(const char *what, const char *s, size_t max_bytes, int allow_empty, char *err,
		 size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0 && !allow_empty)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s is empty", what);
	if (n > max_bytes)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s is %zu bytes long: at most %zu", what, n, max_bytes);
	int ctl;
	size_t at = bad_byte(s, n, 0, &ctl);
	if (at != 0 && ctl)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s holds a control character (0x%02x)", what,
				 (unsigned char)s[at - 1]);
	if (at != 0)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s is not valid UTF-8 (byte %zu)", what, at);
	return 0;
}

/* n digits at *p, value min..max; advances *p. */
static int
digits(const char **p, int n, int min, int max)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v >= min && v <= max ? 0 : -1;
}

/* The shape admin_check_time wants; 1 if s has it. */
static int
time_ok(const char *p)
{
	if (digits(&p, 4, 1, 9999) != 0 || *p++ != '-' || digits(&p, 2, 1, 12) != 0 || *p++ != '-' ||
	    digits(&p, 2, 1, 31) != 0)
		return 0;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return 0;
	p++;
	if (digits(&p, 2, 0, 23) != 0 || *p++ != ':' || digits(&p, 2, 0, 59) != 0)
		return 0;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, 0, 59) != 0)
			return 0;
		if (*p == '.') {
			int n = 0;
			for (p++; *p >= '0' && *p <= '9'; p++)
				n++;
			if (n < 1 || n > 6)
				return 0;
		}
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == 0;
	if (*p != '+' && *p != '-')
		return 0;
	p++;
	if (digits(&p, 2, 0, 15) != 0)
		return 0;
	if (*p == ':')
		p++;
	if ((p[-1] == ':' || *p != 0) && digits(&p, 2, 0, 59) != 0)
		return 0; /* +HH, +HHMM or +HH:MM */
	return *p == 0;
}

int
admin_check_time(const char *what, const char *s, char *err, size_t errlen)
{
	char e[ECHO_MAX + 8];

	if (strlen(s) > ADMIN_TIME_MAX || !time_ok(s))
		return toll_errf(err, errlen, TOLL_EINVAL,
				 "%s '%s': want an ISO 8601 time with its zone, as 2026-01-01T00:00:00+07:00 or "
				 "2026-01-01T00:00:00Z",
				 what, echo(s, e, sizeof(e)));
	return 0;
}

/* YYYY-MM-DD, a day of the calendar from 2000 on (the passes table's
 * bound); out gets it as given. */
int
admin_parse_day(const char *what, const char *s, char out[11], char *err, size_t errlen)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int ok = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
	for (int i = 0; ok && i < 10; i++)
		ok = i == 4 || i == 7 || (s[i] >= '0' && s[i] <= '9');
	if (!ok)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%.40s': want a day as YYYY-MM-DD", what, s);
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 2000 || y > 9998)
		return toll_errf(err, errlen, TOLL_ERANGE, "%s '%s': want a year from 2000 to 9998", what, s);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s': no such day", what, s);
	memcpy(out, s, 11);
	return 0;
}

int
admin_check_zone_name(const char *what, const char *s, char *err, size_t errlen)
{
	char e[ECHO_MAX + 8];
	size_t n = strlen(s);
	int ok = n >= 1 && n <= ADMIN_ZONE_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = s[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
		     c == '-' || c == '+';
	}
	if (!ok)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s '%s': want a time zone name such as Asia/Ho_Chi_Minh",
				 what, echo(s, e, sizeof(e)));
	return 0;
}
