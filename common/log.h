/* log.h: logging to stderr with syslog priority prefixes ("<3>"), which
 * journald understands.  Messages are lowercase, factual, no trailing period. */
#ifndef TOLL_LOG_H
#define TOLL_LOG_H

#include <syslog.h>

/* Name printed after the priority prefix; the string must outlive logging. */
void toll_log_init(const char *ident, int max_priority);
void toll_log_set_level(int max_priority);
int toll_log_level(void);

/* Parse "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int toll_log_parse_level(const char *name);

void toll_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define toll_err(...) toll_log(LOG_ERR, __VA_ARGS__)
#define toll_warn(...) toll_log(LOG_WARNING, __VA_ARGS__)
#define toll_notice(...) toll_log(LOG_NOTICE, __VA_ARGS__)
#define toll_info(...) toll_log(LOG_INFO, __VA_ARGS__)
#define toll_debug(...) toll_log(LOG_DEBUG, __VA_ARGS__)

#endif
