/* log.c: stderr logging with syslog priority prefixes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *log_ident = "toll";
static int log_max = LOG_INFO;

void
toll_log_init(const char *ident, int max_priority)
{
	if (ident != NULL)
		log_ident = ident;
	log_max = max_priority;
}

void
toll_log_set_level(int max_priority)
{
	log_max = max_priority;
}

int
toll_log_level(void)
{
	return log_max;
}

int
toll_log_parse_level(const char *name)
{
	static const struct {
		const char *name;
		int prio;
	} levels[] = {
		{"err", LOG_ERR},	  {"error", LOG_ERR},
		{"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
		{"info", LOG_INFO},	  {"debug", LOG_DEBUG},
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, levels[i].name) == 0)
			return levels[i].prio;
	return -1;
}

void
toll_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (priority > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so lines from one process never interleave. */
	fprintf(stderr, "<%d>%s: %s\n", priority, log_ident, line);
}
