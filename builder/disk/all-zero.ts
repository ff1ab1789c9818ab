/** The test for a hole: the disk stage skips all-zero blocks, the disk-format writers leave them unallocated. */

/** Compared against in pieces of this size, so a check allocates nothing. */
const ZEROS = Buffer.alloc(1024 * 1024);

/** True when every byte of `data` is zero. */
export function isAllZero(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += ZEROS.length) {
    const piece = data.subarray(at, at + ZEROS.length);
    if (!piece.equals(ZEROS.subarray(0, piece.length))) return false;
  }
  return true;
}
