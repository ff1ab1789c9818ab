/**
 * Just enough of the POSIX ustar tar format (IEEE Std 1003.1, "pax" chapter,
 * ustar interchange format) to stream regular files into an archive with
 * deterministic headers: used by the XVA and OVA writers.
 *
 * An archive is, per member, a 512-byte header, the file's bytes, and zero
 * padding up to the next 512-byte boundary; then two zero blocks.
 */

export const USTAR_BLOCK_SIZE = 512;

/** Largest size or mtime that fits the 11 octal digits of a ustar numeric field. */
const MAX_OCTAL_11 = 8 ** 11 - 1;

/** Field offsets and widths in the header block. */
const FIELD = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  magic: [257, 6],
  version: [263, 2],
  devmajor: [329, 8],
  devminor: [337, 8],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * The header block of a regular file: mode 0644, uid/gid 0, no user or group
 * names, modification time `mtime` (seconds since the epoch).
 *
 * `name` is at most 100 bytes of ASCII (the prefix field is not used). A size
 * of 8 GiB or more does not fit ustar's octal field and is stored in base-256
 * (the GNU extension that GNU tar, bsdtar and Python's tarfile read), since
 * an OVA's disk can be that large.
 */
export function ustarHeader(name: string, size: number, mtime: number): Buffer {
  if (!/^[\x20-\x7e]{1,100}$/.test(name)) {
    throw new Error(`tar member name must be 1 to 100 printable ASCII characters, got ${JSON.stringify(name)}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`tar member size must be a non-negative integer, got ${size}`);
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_11) {
    throw new Error(`tar member mtime must be an integer from 0 to ${MAX_OCTAL_11}, got ${mtime}`);
  }

  const header = Buffer.alloc(USTAR_BLOCK_SIZE);
  header.write(name, FIELD.name[0], 'ascii');
  putOctal(header, FIELD.mode, 0o644);
  putOctal(header, FIELD.uid, 0);
  putOctal(header, FIELD.gid, 0);
  if (size <= MAX_OCTAL_11) putOctal(header, FIELD.size, size);
  else putBase256(header, FIELD.size, size);
  putOctal(header, FIELD.mtime, mtime);
  header.write('0', FIELD.typeflag[0], 'ascii'); // regular file
  header.write('ustar\0', FIELD.magic[0], 'ascii');
  header.write('00', FIELD.version[0], 'ascii');
  putOctal(header, FIELD.devmajor, 0);
  putOctal(header, FIELD.devminor, 0);

  // The checksum is the byte sum of the header with the chksum field read as
  // spaces, stored as six octal digits, NUL, space.
  header.fill(' ', FIELD.chksum[0], FIELD.chksum[0] + FIELD.chksum[1]);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, FIELD.chksum[0], 'ascii');
  return header;
}

/** Zero bytes that pad a member of `size` bytes to the next block boundary (possibly none). */
export function ustarPadding(size: number): Buffer {
  return Buffer.alloc((USTAR_BLOCK_SIZE - (size % USTAR_BLOCK_SIZE)) % USTAR_BLOCK_SIZE);
}

/** The end-of-archive marker: two zero blocks. */
export function ustarEndOfArchive(): Buffer {
  return Buffer.alloc(2 * USTAR_BLOCK_SIZE);
}

/** Zero-padded octal digits filling the field, then a NUL. */
function putOctal(header: Buffer, [offset, width]: readonly [number, number], value: number): void {
  header.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, 'ascii');
}

/** 0x80 in the first byte, then the value big-endian in the rest of the field. */
function putBase256(header: Buffer, [offset, width]: readonly [number, number], value: number): void {
  header[offset] = 0x80;
  for (let i = offset + width - 1, rest = value; i > offset; i--, rest = Math.floor(rest / 256)) {
    header[i] = rest % 256;
  }
}
