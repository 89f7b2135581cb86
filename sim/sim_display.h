/* sim_display.h: the driver display (unit 3).  The host writes fee,
 * balance, message and plate, then the update seq last; the display shows
 * the new content when the update seq changes. */
#ifndef SIM_DISPLAY_H
#define SIM_DISPLAY_H

#include <stdint.h>

#include "fwi_map.h"

struct sim_display_content {
	uint32_t fee_vnd;
	int32_t balance_vnd;
	uint16_t message;
	char plate[FWI_PLATE_CHARS + 1];
	uint16_t update_seq;
};

struct sim_display {
	uint16_t regs[FWI_DISPLAY_HR_COUNT];
	struct sim_display_content shown;
	uint32_t updates; /* times the shown content changed */
};

void sim_display_init(struct sim_display *d);
/* Apply a register write; returns 1 when the shown content changed. */
int sim_display_write(struct sim_display *d, uint16_t addr, uint16_t nb,
		      const uint16_t *vals);

#endif
