/**
 * CRC-32C (Castagnoli), the checksum of VHDX headers and tables (MS-VHDX
 * section 2) and of ext4 metadata. Node's zlib only offers the IEEE CRC-32,
 * hence this.
 *
 * Reflected form of the polynomial 0x1EDC6F41, initial value and final XOR
 * 0xFFFFFFFF, processed a byte at a time through a 256-entry table.
 */

const REFLECTED_POLYNOMIAL = 0x82f63b78;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ REFLECTED_POLYNOMIAL : crc >>> 1;
    }
    table[byte] = crc;
  }
  return table;
})();

/** The CRC-32C of `data`, as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc = TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
