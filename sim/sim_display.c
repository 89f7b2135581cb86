/* sim_display.c: the driver display model. */
#include <string.h>

#include "sim_display.h"

void
sim_display_init(struct sim_display *d)
{
	memset(d, 0, sizeof(*d));
}

static void
decode_content(const uint16_t *regs, struct sim_display_content *c)
{
	c->fee_vnd = ((uint32_t)regs[FWI_DSP_FEE] << 16) | regs[FWI_DSP_FEE + 1];
	c->balance_vnd = (int32_t)(((uint32_t)regs[FWI_DSP_BALANCE] << 16) |
				   regs[FWI_DSP_BALANCE + 1]);
	c->message = regs[FWI_DSP_MESSAGE];
	for (int i = 0; i < FWI_DSP_PLATE_WORDS; i++) {
		uint16_t w = regs[FWI_DSP_PLATE + i];
		char hi = (char)(w >> 8), lo = (char)(w & 0xFF);
		/* Show printable ASCII only; anything else becomes '?'. */
		c->plate[2 * i] = hi == 0 ? 0 : (hi >= 0x20 && hi < 0x7F ? hi : '?');
		c->plate[2 * i + 1] = lo == 0 ? 0 : (lo >= 0x20 && lo < 0x7F ? lo : '?');
	}
	c->plate[FWI_PLATE_CHARS] = 0;
	/* NUL-padded: the plate ends at the first NUL */
	c->plate[strnlen(c->plate, FWI_PLATE_CHARS)] = 0;
	c->update_seq = regs[FWI_DSP_UPDATE_SEQ];
}

int
sim_display_write(struct sim_display *d, uint16_t addr, uint16_t nb,
		  const uint16_t *vals)
{
	uint16_t old_seq = d->regs[FWI_DSP_UPDATE_SEQ];

	for (uint16_t i = 0; i < nb && addr + i < FWI_DISPLAY_HR_COUNT; i++)
		d->regs[addr + i] = vals[i];
	if (d->regs[FWI_DSP_UPDATE_SEQ] == old_seq)
		return 0;
	decode_content(d->regs, &d->shown);
	d->updates++;
	return 1;
}
