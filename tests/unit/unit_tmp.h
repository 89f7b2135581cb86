/* unit_tmp.h: a scratch folder for a unit test that writes files:
 * make_tmpdir() before, tmpfile_named("x") for paths in it (four live at
 * once), rm_tmpdir() after (its files, not sub-folders). */
#ifndef UNIT_TMP_H
#define UNIT_TMP_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static inline void
make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/toll-unit-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void
rm_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char p[600];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
}

static inline const char *
tmpfile_named(const char *name)
{
	static char p[4][600];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name);
	return p[k];
}

#endif
