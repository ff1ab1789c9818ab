/**
 * Reads the raw disk produced by the disk stage as a sequence of DiskChunks
 * (see types.ts), the one input that every disk-format writer consumes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CHUNK_SIZE, type DiskChunk } from './types.js';

/** A byte range of the raw disk that the disk stage wrote data into: [offset, length]. */
export type Extent = readonly [offset: number, length: number];

const ZEROS = Buffer.alloc(CHUNK_SIZE);

/** True when every byte of `data` is zero. */
export function isAllZero(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += CHUNK_SIZE) {
    const piece = data.subarray(at, at + CHUNK_SIZE);
    if (!piece.equals(ZEROS.subarray(0, piece.length))) return false;
  }
  return true;
}

/**
 * Walks the raw disk at `path` in order, one CHUNK_SIZE chunk at a time.
 *
 * With `extents` (sorted by offset, any alignment), a chunk that overlaps no
 * extent is yielded as `data: null` without being read. Without them every
 * chunk is read. A chunk that is read and holds only zeros is also null.
 *
 * Ownership: every non-null `data` is a newly allocated Buffer that the reader
 * never touches again, so consumers may keep it.
 */
export async function* readRawDisk(
  path: string,
  extents?: readonly Extent[],
): AsyncGenerator<DiskChunk, void, undefined> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (extents) checkExtents(extents, size);
    let nextExtent = 0; // first extent that does not end before the current chunk
    for (let offset = 0; offset < size; offset += CHUNK_SIZE) {
      const length = Math.min(CHUNK_SIZE, size - offset);
      if (extents) {
        while (nextExtent < extents.length && extentEnd(extents[nextExtent]) <= offset) nextExtent++;
        // Extents are sorted by offset, so if this one starts past the chunk, all later ones do too.
        if (nextExtent === extents.length || extents[nextExtent][0] >= offset + length) {
          yield { offset, length, data: null };
          continue;
        }
      }
      const data = Buffer.allocUnsafe(length);
      await readFully(file, data, offset);
      yield { offset, length, data: isAllZero(data) ? null : data };
    }
  } finally {
    await file.close();
  }
}

function extentEnd([offset, length]: Extent): number {
  return offset + length;
}

function checkExtents(extents: readonly Extent[], diskSize: number): void {
  extents.forEach(([offset, length], i) => {
    const shown = `extents[${i}] = [${offset}, ${length}]`;
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(`${shown}: offset and length must be non-negative integers`);
    }
    if (offset + length > diskSize) {
      throw new Error(`${shown} ends past the end of the raw disk (${diskSize} bytes)`);
    }
    if (i > 0 && offset < extents[i - 1][0]) {
      throw new Error(`${shown}: extents must be sorted by offset`);
    }
  });
}

async function readFully(file: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buffer.length; ) {
    const { bytesRead } = await file.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error(`raw disk ended early: no data at byte ${position + done}`);
    done += bytesRead;
  }
}
