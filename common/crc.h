/* crc.h: checksums used by the device contract and the stored formats. */
#ifndef TOLL_CRC_H
#define TOLL_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC-16/MODBUS: poly 0xA001 reflected, init 0xFFFF, no final xor.
 * check("123456789") = 0x4B37. */
uint16_t toll_crc16_modbus(const void *data, size_t len);

/* CRC-32C (Castagnoli), chainable: start with crc = 0.
 * check("123456789") = 0xE3069283. */
uint32_t toll_crc32c(uint32_t crc, const void *data, size_t len);

#endif
