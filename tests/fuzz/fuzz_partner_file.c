/* fuzz_partner_file.c: a partner's daily file (central/partner_file.c)
 * takes any bytes without a crash or a leak; a refusal says why; what it
 * accepts keeps its bounds: every kept row's fields within PF_FIELD_MAX,
 * a canonical line for each that fits PF_LINE_MAX and reads back as the
 * same row, problems in line order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../central/partner_file.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_file *f;
	char err[256] = "";
	int rc = pf_read((const char *)data, size, &f, err, sizeof(err));

	if (rc != 0) {
		if (err[0] == 0 || f != NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < f->nrows; i++) {
		const struct pf_row *r = &f->rows[i];
		char line[PF_LINE_MAX + 2];
		for (int k = 0; k < PF_FIELDS; k++)
			if (strlen(r->field[k]) > PF_FIELD_MAX)
				abort();
		if (r->amount_vnd <= 0 || r->amount_vnd > PF_AMOUNT_MAX || r->account_id == 0 || !pf_ref_ok(r->field[3]))
			abort();
		if (pf_row_line(r, line, PF_LINE_MAX) != 0)
			abort();
		/* the canonical line is a file of one row that reads the same */
		size_t n = strlen(line);
		struct pf_file *g;
		line[n] = '\n';
		if (pf_read(line, n + 1, &g, err, sizeof(err)) != 0 || g->nrows != 1 || g->nproblems != 0 ||
		    memcmp(g->rows[0].field, r->field, sizeof(r->field)) != 0 || g->rows[0].amount_vnd != r->amount_vnd)
			abort();
		pf_free(g);
	}
	for (size_t i = 1; i < f->nproblems; i++)
		if (f->problems[i].line < f->problems[i - 1].line)
			abort();
	pf_free(f);
	return 0;
}
