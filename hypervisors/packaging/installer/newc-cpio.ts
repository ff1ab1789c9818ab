/**
 * Just enough of the "new" (SVR4, newc) cpio format to stream an initramfs with
 * deterministic headers, as the kernel's initramfs unpacker reads it
 * (Documentation/driver-api/early-userspace/buffer-format.rst): per entry, a
 * 110-byte ASCII header ("070701" and thirteen 8-digit hex fields), the
 * NUL-terminated name, zero padding to a multiple of 4, the data, padding again;
 * then the entry named TRAILER!!!.
 */

export type CpioEntry =
  | { kind: 'dir'; name: string; mode: number }
  | { kind: 'file'; name: string; mode: number; data: Buffer }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'char'; name: string; mode: number; major: number; minor: number };

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';
const MAX_FIELD = 0xffffffff;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

export class CpioEntryError extends Error {
  override name = 'CpioEntryError';
}

/**
 * The archive's bytes, entries in the order given (a folder before what it holds):
 * uid and gid 0, every time `mtime`, inode numbers counted from 1, one link each.
 * Names are relative (no leading /), as the kernel's own gen_init_cpio writes them.
 */
export function* newcCpio(entries: readonly CpioEntry[], mtime: number): Generator<Buffer> {
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_FIELD) throw new CpioEntryError(`cpio mtime must be an integer from 0 to ${MAX_FIELD}, got ${mtime}`);
  const seen = new Set<string>();
  let inode = 0;
  for (const entry of entries) {
    checkName(entry.name);
    if (seen.has(entry.name)) throw new CpioEntryError(`cpio entry ${JSON.stringify(entry.name)} is given twice`);
    seen.add(entry.name);
    const parent = entry.name.includes('/') ? entry.name.slice(0, entry.name.lastIndexOf('/')) : undefined;
    if (parent !== undefined && !seen.has(parent)) throw new CpioEntryError(`cpio entry ${JSON.stringify(entry.name)} comes before its folder ${JSON.stringify(parent)}`);
    const data = entryData(entry);
    yield header({ inode: ++inode, mode: entryMode(entry), nlink: entry.kind === 'dir' ? 2 : 1, mtime, size: data.length, ...device(entry), name: entry.name });
    yield pad(Buffer.from(`${entry.name}\0`, 'ascii'), HEADER_SIZE);
    if (data.length > 0) yield pad(data, 0);
  }
  yield header({ inode: 0, mode: 0, nlink: 1, mtime: 0, size: 0, major: 0, minor: 0, name: TRAILER });
  yield pad(Buffer.from(`${TRAILER}\0`, 'ascii'), HEADER_SIZE);
}

function checkName(name: string): void {
  if (!/^[\x21-\x7e]{1,255}$/.test(name) || name.startsWith('/') || name.endsWith('/') || name.split('/').some((part) => part === '' || part === '.' || part === '..') || name === TRAILER) {
    throw new CpioEntryError(`cpio entry name ${JSON.stringify(name)} is not a relative path of printable ASCII without ., .. or empty parts`);
  }
}

function entryMode(entry: CpioEntry): number {
  const permissions = entry.kind === 'symlink' ? 0o777 : entry.mode;
  if (!Number.isInteger(permissions) || permissions < 0 || permissions > 0o7777) {
    throw new CpioEntryError(`cpio entry ${entry.name}: mode must be permission bits (0 to 0o7777), got ${permissions}`);
  }
  const type = { dir: S_IFDIR, file: S_IFREG, symlink: S_IFLNK, char: S_IFCHR }[entry.kind];
  return type | permissions;
}

function entryData(entry: CpioEntry): Buffer {
  switch (entry.kind) {
    case 'file':
      if (entry.data.length > MAX_FIELD) throw new CpioEntryError(`cpio entry ${entry.name}: ${entry.data.length} bytes do not fit newc's 32-bit size`);
      return entry.data;
    case 'symlink':
      if (!/^[\x21-\x7e]{1,4095}$/.test(entry.target)) throw new CpioEntryError(`cpio symlink ${entry.name}: target ${JSON.stringify(entry.target)} is not printable ASCII`);
      return Buffer.from(entry.target, 'ascii');
    default:
      return Buffer.alloc(0);
  }
}

function device(entry: CpioEntry): { major: number; minor: number } {
  if (entry.kind !== 'char') return { major: 0, minor: 0 };
  for (const [field, value] of [['major', entry.major], ['minor', entry.minor]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xfff) throw new CpioEntryError(`cpio device ${entry.name}: ${field} must be 0 to 4095, got ${value}`);
  }
  return { major: entry.major, minor: entry.minor };
}

interface Header {
  inode: number;
  mode: number;
  nlink: number;
  mtime: number;
  size: number;
  /** Of the device a char entry is (rdevmajor, rdevminor); the archive's own device fields stay 0. */
  major: number;
  minor: number;
  name: string;
}

function header(h: Header): Buffer {
  const fields = [h.inode, h.mode, 0, 0, h.nlink, h.mtime, h.size, 0, 0, h.major, h.minor, h.name.length + 1, 0];
  return Buffer.from(MAGIC + fields.map((value) => value.toString(16).padStart(8, '0')).join(''), 'ascii');
}

/** `piece` with zeros after it up to a multiple of 4, counting `before` bytes already written since the last boundary. */
function pad(piece: Buffer, before: number): Buffer {
  const padding = (4 - ((before + piece.length) % 4)) % 4;
  return padding ? Buffer.concat([piece, Buffer.alloc(padding)]) : piece;
}
