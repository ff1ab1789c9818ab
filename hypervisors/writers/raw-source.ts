/**
 * Reads the raw disk produced by the disk stage as a sequence of DiskChunks
 * (see types.ts), the one input that every disk-format writer consumes.
 *
 * The stretches that may hold data are read READ_SIZE bytes at a time into a few
 * reused buffers, READS_AHEAD reads ahead of the consumer, so the disk is read
 * while the writers work and no memory is allocated per chunk. The zero stretches
 * between them, and runs of chunks that were read and hold only zeros, go out as
 * one null chunk each: a hole costs the same whether it is 1 MiB or 60 GiB.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { isAllZero } from '../../builder/disk/all-zero.js';
import type { Extent } from '../../builder/disk/sparse-copy.js';
import { CHUNK_SIZE, type DiskChunk } from './types.js';

/** The disk stage's extents are what this reads; bench/ imports the type from here. */
export type { Extent };

/** Bytes per read: large enough that a read's fixed cost vanishes, a whole number of chunks. */
export const READ_SIZE = 8 * CHUNK_SIZE;
const READS_AHEAD = 2;

/** A byte range of the raw disk to read: [offset, offset + length). */
interface Span {
  offset: number;
  length: number;
}

interface Read extends Span {
  buffer: Buffer;
  done: Promise<void>;
}

/**
 * Walks the raw disk at `path` in order.
 *
 * With `extents` (sorted by offset, any alignment), only the chunks that overlap
 * an extent are read. Without them every chunk is read. Every chunk holding a
 * non-zero byte is yielded with its data; everything else is yielded as null
 * chunks, one per zero stretch.
 */
export async function* readRawDisk(
  path: string,
  extents?: readonly Extent[],
): AsyncGenerator<DiskChunk, void, undefined> {
  const file = await open(path, 'r');
  const inFlight: Read[] = [];
  try {
    const { size } = await file.stat();
    if (extents) checkExtents(extents, size);
    const planned = plannedReads(size, extents);
    const buffers = new BufferPool(READS_AHEAD + 2);
    let holeStart = 0;
    /** Yields so far: the consumer may still use the data of the last one. */
    let yielded = 0;

    const startReads = () => {
      while (planned.length > 0 && inFlight.length <= READS_AHEAD) {
        const buffer = buffers.take(inFlight.length === 0);
        if (!buffer) return;
        const span = planned.shift()!;
        const done = readFully(file, buffer.subarray(0, span.length), span.offset);
        done.catch(() => undefined); // awaited in order below; this only marks it handled meanwhile
        inFlight.push({ ...span, buffer, done });
      }
    };

    startReads();
    while (inFlight.length > 0) {
      const read = inFlight[0]!;
      await read.done;
      inFlight.shift();
      let lastYieldOfRead = 0;
      for (let at = 0; at < read.length; at += CHUNK_SIZE) {
        const length = Math.min(CHUNK_SIZE, read.length - at);
        const data = read.buffer.subarray(at, at + length);
        if (isAllZero(data)) continue;
        const offset = read.offset + at;
        if (holeStart < offset) {
          yield { offset: holeStart, length: offset - holeStart, data: null };
          buffers.release(++yielded);
        }
        lastYieldOfRead = yielded + 1;
        yield { offset, length, data };
        buffers.release(++yielded);
        holeStart = offset + length;
        startReads();
      }
      buffers.giveBack(read.buffer, lastYieldOfRead);
      startReads();
    }
    if (holeStart < size) yield { offset: holeStart, length: size - holeStart, data: null };
  } finally {
    await Promise.allSettled(inFlight.map((read) => read.done));
    await file.close();
  }
}

/**
 * The buffers reads go into. A buffer the reader has handed out data from comes
 * back once the consumer has asked for the chunk after the next one (types.ts).
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  /** Given back while the consumer may still use their data: the number of the last yield that handed some out. */
  private readonly inUse = new Map<Buffer, number>();
  private made = 0;

  constructor(private readonly size: number) {}

  /** A free buffer, the reader's until giveBack(); a new one while fewer than `size` exist or when `needed`; else null. */
  take(needed: boolean): Buffer | null {
    const buffer = this.free.pop();
    if (buffer) return buffer;
    if (this.made >= this.size && !needed) return null;
    this.made++;
    return Buffer.allocUnsafe(READ_SIZE);
  }

  /** The reader is done with `buffer`, whose data last went out in yield `lastYield` (0: none did). */
  giveBack(buffer: Buffer, lastYield: number): void {
    if (lastYield > 0) this.inUse.set(buffer, lastYield);
    else this.free.push(buffer);
  }

  /** The consumer took yield number `yielded`: buffers whose data last went out before it are free again. */
  release(yielded: number): void {
    for (const [buffer, lastYield] of this.inUse) {
      if (lastYield < yielded) {
        this.inUse.delete(buffer);
        this.free.push(buffer);
      }
    }
  }
}

/** The reads that cover every chunk touching an extent (every chunk without extents), each at most READ_SIZE. */
function plannedReads(size: number, extents: readonly Extent[] | undefined): Span[] {
  const stretches: Span[] = [];
  for (const [offset, length] of extents ?? [[0, size]]) {
    if (length === 0) continue;
    const start = Math.floor(offset / CHUNK_SIZE) * CHUNK_SIZE;
    const end = Math.min(size, Math.ceil((offset + length) / CHUNK_SIZE) * CHUNK_SIZE);
    const last = stretches.at(-1);
    if (last && start <= last.offset + last.length) last.length = Math.max(last.length, end - last.offset);
    else stretches.push({ offset: start, length: end - start });
  }
  return stretches.flatMap(({ offset, length }) =>
    Array.from({ length: Math.ceil(length / READ_SIZE) }, (_, i) => ({
      offset: offset + i * READ_SIZE,
      length: Math.min(READ_SIZE, length - i * READ_SIZE),
    })),
  );
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
