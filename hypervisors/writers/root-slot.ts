/**
 * One partition of the disk, the root slot an update bundle carries, as a gzip stream:
 * the partition's bytes from its first to its last, zeros included (gzip makes little of
 * them), so that what is unpacked is exactly what the slot must hold.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CHUNK_SIZE, type DiskImageWriter, type DiskImageWriterOptions } from './types.js';

export interface RootSlotWriterOptions extends DiskImageWriterOptions {
  /** The partition's byte range in the disk; both ends a multiple of CHUNK_SIZE. */
  partition: { offset: number; size: number };
}

const ZEROS = Buffer.alloc(CHUNK_SIZE);

export function createRootSlotWriter({ path, diskSize, partition }: RootSlotWriterOptions): DiskImageWriter {
  const { offset: start, size } = partition;
  const end = start + size;
  if (start % CHUNK_SIZE !== 0 || size % CHUNK_SIZE !== 0 || end > diskSize) {
    throw new Error(`root slot writer: partition ${start}+${size} is not whole MiB inside the ${diskSize}-byte disk`);
  }
  const gzip = createGzip({ level: 6 });
  const output = createWriteStream(path);
  gzip.pipe(output);
  const done = finished(output);
  done.catch(() => undefined);
  let written = 0;

  // The write's callback comes once gzip has taken the bytes in, so the reader may reuse them.
  const push = async (data: Buffer) => {
    await Promise.race([new Promise<void>((resolve, reject) => gzip.write(data, (error) => (error ? reject(error) : resolve()))), done]);
    written += data.length;
  };

  return {
    async write({ offset, length, data }) {
      const from = Math.max(offset, start);
      const to = Math.min(offset + length, end);
      if (from >= to) return;
      if (data) {
        await push(data.subarray(from - offset, to - offset));
      } else {
        for (let at = from; at < to; at += CHUNK_SIZE) await push(ZEROS.subarray(0, Math.min(CHUNK_SIZE, to - at)));
      }
    },
    async finish() {
      if (written !== size) throw new Error(`root slot writer: got ${written} of the partition's ${size} bytes`);
      gzip.end();
      await done;
    },
    async abort() {
      gzip.destroy();
      output.destroy();
      await rm(path, { force: true });
    },
  };
}
