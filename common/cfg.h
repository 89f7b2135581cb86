/* cfg.h: table-driven configuration ("key = value" files and --set), in
 * the manner of redis' static configs: each key has a type, bounds, a
 * default and a place in the caller's config struct.
 *
 * The order of use:
 *
 *   toll_cfg_defaults()      checks the table, fills in every default
 *   toll_cfg_load()          a file, if one was given
 *   toll_cfg_set()           each --set KEY=VALUE (a later value wins)
 *   toll_cfg_check()         every TOLL_CFG_REQUIRED key was given
 *
 * A file holds "key = value" lines, blank lines and lines whose first
 * non-blank character is '#'.  A '#' after a value is part of the value
 * (passwords and paths may hold one).  Blanks around keys and values are
 * dropped, a UTF-8 byte order mark at the start and CR line ends are
 * ignored.  A key may appear once per file.  Values:
 *
 *   INT     decimal, optional '-': "12", "-800"
 *   BOOL    yes/no, true/false, on/off, 1/0
 *   STRING  the text as written, no control characters
 *   MS      a whole number with a unit ms, s, m, h; plain is ms: "250ms", "5s"
 *   BYTES   a whole number with a unit B, KiB, MiB, GiB, TiB; plain is bytes
 *
 * Indexed keys have one '*' in the table ("lane.*.reader") and are named
 * with a decimal index without leading zeros ("lane.0.reader").
 *
 * Which keys were set: give the table one TOLL_CFG_SETMAP_ROW() naming a
 * bitmap inside the config struct.  toll_cfg_defaults() clears it, every
 * set and every line loaded marks its key, toll_cfg_index_set() reads it.
 * It holds one bit per plain key and `count` bits per '*' key; size it with
 * TOLL_CFG_SETMAP_BYTES(bits).  A table without the row works as before,
 * but cannot have TOLL_CFG_REQUIRED keys.
 *
 * Errors are TOLL_ECONFIG with a message: "KEY: ..." from toll_cfg_set,
 * "FILE:LINE: KEY: ..." from a file.  Secret values never appear in
 * messages or in printed output.  A load that fails may have set the keys
 * on the lines before the bad one: load into a scratch copy to reload a
 * running daemon's configuration. */
#ifndef TOLL_CFG_H
#define TOLL_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum toll_cfg_type {
	TOLL_CFG_INT,	 /* int64_t */
	TOLL_CFG_BOOL,	 /* int, 0 or 1 */
	TOLL_CFG_STRING, /* char[max + 1], NUL-terminated */
	TOLL_CFG_MS,	 /* int64_t milliseconds */
	TOLL_CFG_BYTES,	 /* int64_t bytes */
	TOLL_CFG_SETMAP	 /* not a key: the bitmap of keys set (TOLL_CFG_SETMAP_ROW) */
};

#define TOLL_CFG_REQUIRED 0x1 /* no default: toll_cfg_check() fails unless set */
#define TOLL_CFG_SECRET 0x2   /* printed as "<hidden>", never in messages */

#define TOLL_CFG_LINE_MAX 4096	   /* bytes in a file line, without its newline */
#define TOLL_CFG_FILE_MAX (1 << 20) /* bytes in a file */
#define TOLL_CFG_STRING_MAX 2048    /* the largest STRING max a table may give */

struct toll_cfg_key {
	const char *name;  /* "journal.dir", or "lane.*.reader" for indices 0..count-1 */
	enum toll_cfg_type type;
	int64_t min, max;  /* INT, MS, BYTES: bounds; STRING: length in bytes */
	const char *def;   /* default as text; NULL: none, the field is zeroed */
	size_t offset;	   /* of the field in the config struct */
	size_t stride;	   /* '*' keys: bytes between elements */
	unsigned count;	   /* '*' keys: number of elements */
	unsigned flags;	   /* TOLL_CFG_REQUIRED, TOLL_CFG_SECRET */
	const char *help;
};

/* The table row for a bitmap `unsigned char field[TOLL_CFG_SETMAP_BYTES(n)]`
 * of the config struct `type`. */
#define TOLL_CFG_SETMAP_ROW(type, field) \
	{NULL, TOLL_CFG_SETMAP, 0, (int64_t)sizeof(((type *)0)->field), NULL, offsetof(type, field), 0, 0, 0, NULL}
#define TOLL_CFG_SETMAP_BYTES(bits) (((bits) + 7) / 8)

/* Check the table (a bad one is a programming error: logged, TOLL_ECONFIG)
 * and fill conf with the defaults. */
int toll_cfg_defaults(const struct toll_cfg_key *keys, size_t n, void *conf);
/* One key ("lane.2.reader") from text; blanks around the value are dropped. */
int toll_cfg_set(const struct toll_cfg_key *keys, size_t n, void *conf, const char *name,
		 const char *value, char *err, size_t errlen);
/* A file (at most TOLL_CFG_FILE_MAX bytes). */
int toll_cfg_load(const struct toll_cfg_key *keys, size_t n, void *conf, const char *path,
		  char *err, size_t errlen);
/* The same from memory; name is the file name used in messages. */
int toll_cfg_load_text(const struct toll_cfg_key *keys, size_t n, void *conf, const char *text,
		       size_t len, const char *name, char *err, size_t errlen);
/* Whether key `name` as the table spells it ("lane.*.reader", or a plain
 * key with index 0) was set by toll_cfg_set or toll_cfg_load since
 * toll_cfg_defaults: 1 or 0; TOLL_ENOTFOUND (no such key), TOLL_ERANGE
 * (index), TOLL_EINVAL (the table has no TOLL_CFG_SETMAP_ROW). */
int toll_cfg_index_set(const struct toll_cfg_key *keys, size_t n, const void *conf, const char *name,
		       unsigned index);
/* Every TOLL_CFG_REQUIRED key was set; else TOLL_ECONFIG, "KEY: required". */
int toll_cfg_check(const struct toll_cfg_key *keys, size_t n, const void *conf, char *err, size_t errlen);
/* The effective configuration as a loadable file: every plain key, the
 * elements of '*' keys that were set or differ from the default; secrets
 * as "<hidden>" (which a load refuses, so a printed secret is never taken
 * for the secret itself); keys without a value as comments. */
void toll_cfg_print(const struct toll_cfg_key *keys, size_t n, const void *conf, FILE *out);
/* The key table for --help-config: name, type, bounds, default, help. */
void toll_cfg_describe(const struct toll_cfg_key *keys, size_t n, FILE *out);

#endif
