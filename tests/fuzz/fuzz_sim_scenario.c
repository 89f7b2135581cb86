/* fuzz_sim_scenario.c: the scenario file parser takes any bytes without a
 * crash, and whatever it accepts writes out and loads back the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_scenario s, s2;
	char err[300];
	FILE *f;

	if (size == 0 || size > 1 << 16)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (f == NULL)
		return 0;
	sim_scenario_init(&s);
	if (sim_scenario_load(&s, f, "fuzz", 4, err, sizeof(err)) == 0) {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		if (out != NULL && sim_scenario_write(&s, out, 4) == 0) {
			fclose(out);
			FILE *in = fmemopen(text, len, "r");
			sim_scenario_init(&s2);
			if (in == NULL || sim_scenario_load(&s2, in, "again", 4, err, sizeof(err)) != 0 ||
			    s2.n != s.n)
				abort();
			for (size_t i = 0; i < s.n; i++)
				if (s2.cmds[i].at_ms != s.cmds[i].at_ms || s2.cmds[i].kind != s.cmds[i].kind)
					abort();
			fclose(in);
			sim_scenario_clear(&s2);
		} else if (out != NULL) {
			fclose(out);
		}
		free(text);
	}
	fclose(f);
	sim_scenario_clear(&s);
	return 0;
}
