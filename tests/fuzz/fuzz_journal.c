/* fuzz_journal.c: the journal reader and its recovery take any segment
 * file without a crash, a leak or a loop. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/toll-fuzz-journal-XXXXXX", path[128];
	struct toll_journal_iter *it;
	struct toll_journal *j;
	struct toll_journal_recovery rep;
	struct toll_journal_opts o;
	uint64_t seq;
	uint8_t type;
	const uint8_t *p;
	size_t len;
	int fd;

	if (mkdtemp(dir) == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, data, size) != (ssize_t)size)
			size = 0;
		close(fd);
	}
	if (toll_journal_iter_open_dir(dir, 1, &it) == 0) {
		for (int i = 0; i < 100000 && toll_journal_iter_next(it, &seq, &type, &p, &len) == 0; i++)
			;
		toll_journal_iter_close(it);
	}
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.no_sync = 1;
	if (toll_journal_open(&o, &j, &rep) == 0)
		toll_journal_close(j);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cursor", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}
