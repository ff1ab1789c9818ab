/**
 * Helpers shared by the tests of the disk-format writers and the packaging:
 * scratch folders, small sparse raw disks, feeding a raw disk to a writer, and
 * running the tools that read the results back. Not a test file itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { access, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { execa } from 'execa';
import type { Extent } from '../../builder/disk/sparse-copy.js';
import { CHUNK_SIZE, type DiskImageWriter } from './types.js';

const MiB = 1024 * 1024;

// ─── Scratch folder and files ───────────────────────────────────────────────

/** Joins names onto the scratch folder's path; with none, the folder itself. */
export type TempDir = (...names: string[]) => string;

/**
 * A scratch folder for the calling test file, made when first asked for and
 * removed, with all in it, after the file's tests end. Call it at the top
 * level. It is made on demand, not in a `before` hook, because Node 20 does
 * not run top-level `before` hooks one after the other: the test file's own
 * hook could ask for the folder before it exists.
 */
export function useTempDir(prefix: string): TempDir {
  let dir: string | undefined;
  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return (...names) => {
    dir ??= mkdtempSync(join(tmpdir(), prefix));
    return join(dir, ...names);
  };
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

// ─── Raw disks ──────────────────────────────────────────────────────────────

/** Creates a sparse file of `size` bytes holding `writes` ([offset, bytes]); returns the extents written. */
export async function makeDisk(path: string, size: number, writes: Array<[number, Buffer]>): Promise<Extent[]> {
  const file = await open(path, 'w');
  try {
    await file.truncate(size);
    for (const [offset, data] of writes) await file.write(data, 0, data.length, offset);
  } finally {
    await file.close();
  }
  return writes.map(([offset, data]): Extent => [offset, data.length]);
}

export const SAMPLE_DISK_SIZE = 64 * MiB;

/**
 * The sample disk's writes, fresh random bytes each call. In 64 KiB clusters:
 * chunk 0 full (16 clusters); in chunk 1 a full cluster and one byte at the
 * end of its sixth (2); 300 KiB from an unaligned offset in chunk 10 (5); 200
 * bytes straddling chunks 19 and 20 (2); zeros written over all of chunk 41,
 * which is thus in an extent but all zero; the disk's last 100 bytes (1).
 * Everything else is a hole.
 */
function sampleDiskWrites(): Array<[number, Buffer]> {
  return [
    [0, randomBytes(MiB)],
    [1 * MiB, randomBytes(64 * 1024)],
    [1 * MiB + 6 * 64 * 1024 - 1, Buffer.from([7])],
    [10 * MiB + 12345, randomBytes(300 * 1024)],
    [20 * MiB - 100, randomBytes(200)],
    [41 * MiB, Buffer.alloc(MiB)],
    [SAMPLE_DISK_SIZE - 100, randomBytes(100)],
  ];
}

/** The 1 MiB chunks of the sample disk that hold non-zero data. */
export const SAMPLE_DATA_CHUNKS = [0, 1, 10, 19, 20, 63];

/** Creates the sample disk (see sampleDiskWrites) at `path`; returns the extents written. */
export async function makeSampleDisk(path: string): Promise<Extent[]> {
  return makeDisk(path, SAMPLE_DISK_SIZE, sampleDiskWrites());
}

/** The size of the block sample disk, the VHD and VHDX tests' disk. */
export const BLOCK_SAMPLE_SIZE = 64 * MiB;

/** The 2 MiB blocks (VHD's and VHDX's) of the block sample disk that hold data. */
export const BLOCK_SAMPLE_ALLOCATED_BLOCKS = [0, 1, 2, 20, 31];

/**
 * Creates the block sample disk at `path`, 64 MiB: random data in chunks 0,
 * 2-3 and 41 and in the last MiB, so block 0 is only half used; chunk 5
 * mostly zero but with 4 KiB of data in the middle; everything else a hole.
 */
export async function makeBlockSampleDisk(path: string): Promise<void> {
  const writes = [0, 2, 3, 5, 41, 63].map((chunk): [number, Buffer] =>
    chunk === 5 ? [chunk * MiB + 300 * 1024, randomBytes(4096)] : [chunk * MiB, randomBytes(MiB)],
  );
  await makeDisk(path, BLOCK_SAMPLE_SIZE, writes);
}

/**
 * Feeds the raw disk at `rawPath` to `writer` the way the raw-disk reader
 * does, 1 MiB chunks with data and one `data: null` chunk per zero stretch,
 * then finishes it; if anything fails, aborts it and rethrows.
 *
 * With `reuseBuffer`, every chunk is read into one and the same buffer, so a
 * writer that holds on to a chunk's data after write() returns gets it wrong.
 */
export async function feedRawDisk(
  writer: DiskImageWriter,
  rawPath: string,
  { reuseBuffer = false }: { reuseBuffer?: boolean } = {},
): Promise<void> {
  const input = await open(rawPath, 'r');
  const zeros = Buffer.alloc(CHUNK_SIZE);
  let buffer = Buffer.alloc(CHUNK_SIZE);
  try {
    const { size } = await input.stat();
    let holeStart = 0;
    for (let offset = 0; offset < size; offset += CHUNK_SIZE) {
      if (!reuseBuffer) buffer = Buffer.alloc(CHUNK_SIZE);
      const length = Math.min(CHUNK_SIZE, size - offset);
      const { bytesRead } = await input.read(buffer, 0, length, offset);
      if (bytesRead !== length) throw new Error(`${rawPath}: read ${bytesRead} of ${length} bytes at ${offset}`);
      const data = buffer.subarray(0, length);
      if (data.equals(zeros.subarray(0, length))) continue;
      if (holeStart < offset) await writer.write({ offset: holeStart, length: offset - holeStart, data: null });
      await writer.write({ offset, length, data });
      holeStart = offset + length;
    }
    if (holeStart < size) await writer.write({ offset: holeStart, length: size - holeStart, data: null });
    await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    await input.close();
  }
}

// ─── Tools ──────────────────────────────────────────────────────────────────

/**
 * Runs a tool in the C locale and returns its stdout without the final
 * newline; rejects, with its stderr, unless it exits with status 0.
 */
export async function run(tool: string, args: string[]): Promise<string> {
  const { stdout } = await execa(tool, args, { env: { LC_ALL: 'C' }, stdin: 'ignore' });
  return stdout;
}

/** The virtual disk of a VHD or VHDX as libvhdi reads it (vhdimount; the package has no vhdiexport). */
export async function sha256ThroughLibvhdi(image: string, scratchDir: string): Promise<string> {
  const mountPoint = await mkdtemp(join(scratchDir, 'mnt-'));
  await run('vhdimount', [image, mountPoint]);
  try {
    return await sha256File(join(mountPoint, 'vhdi1'));
  } finally {
    await run('umount', [mountPoint]);
  }
}
