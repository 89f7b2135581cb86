/* cfg.h: table-driven configuration ("key = value" files and --set), in
 * the manner of redis' static configs: each key has a type, bounds, a
 * default and a place in the caller's struct. */
#ifndef TOLL_CFG_H
#define TOLL_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum toll_cfg_type {
	TOLL_CFG_INT,	 /* int64_t */
	TOLL_CFG_BOOL,	 /* int: yes/no, true/false, on/off, 1/0 */
	TOLL_CFG_STRING, /* char[max + 1] */
	TOLL_CFG_MS,	 /* int64_t ms: "250ms", "5s", "2m", "1h", or plain ms */
	TOLL_CFG_BYTES	 /* int64_t: "64KiB", "16MiB", "2GiB", or plain bytes */
};

#define TOLL_CFG_REQUIRED 0x1
#define TOLL_CFG_SECRET 0x2

struct toll_cfg_key {
	const char *name;  /* "journal.dir", or "lane.*.reader" for indices 0..count-1 */
	enum toll_cfg_type type;
	int64_t min, max;  /* numbers: bounds; STRING: max length */
	const char *def;   /* default as text; NULL: none (zero) */
	size_t offset;	   /* of the field in the config struct */
	size_t stride;	   /* '*' keys: bytes between elements */
	unsigned count;	   /* '*' keys: number of elements */
	unsigned flags;
	const char *help;
};

int toll_cfg_defaults(const struct toll_cfg_key *keys, size_t n, void *conf);
/* One key; errors in err ("KEY: ..."). */
int toll_cfg_set(const struct toll_cfg_key *keys, size_t n, void *conf, const char *name,
		 const char *value, char *err, size_t errlen);
/* A file of "key = value" lines; '#' comments; errors "FILE:LINE: ...";
 * unknown keys, bad values, duplicates and over-long lines refused. */
int toll_cfg_load(const struct toll_cfg_key *keys, size_t n, void *conf, const char *path,
		  char *err, size_t errlen);
/* The effective configuration as a loadable file (secrets hidden). */
void toll_cfg_print(const struct toll_cfg_key *keys, size_t n, const void *conf, FILE *out);
/* The key table for --help-config. */
void toll_cfg_describe(const struct toll_cfg_key *keys, size_t n, FILE *out);

#endif
