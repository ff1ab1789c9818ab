/**
 * Checks that several disk-format writers make alike: their options, and
 * that the chunks keep to the reader's contract (see types.ts). Every error
 * message starts with the writer's label, e.g. "VHD writer".
 */
import { CHUNK_SIZE, type DiskChunk } from './types.js';

export function checkPathOption(label: string, path: string): void {
  if (typeof path !== 'string' || path === '') {
    throw new Error(`${label}: option path must be a file path, got ${JSON.stringify(path)}`);
  }
}

export function checkDiskSizeOption(label: string, diskSize: number): void {
  if (!Number.isSafeInteger(diskSize) || diskSize <= 0 || diskSize % CHUNK_SIZE !== 0) {
    throw new Error(`${label}: option diskSize must be a positive multiple of 1 MiB, got ${diskSize}`);
  }
}

export function checkUniqueIdOption(label: string, uniqueId: Buffer): void {
  if (!Buffer.isBuffer(uniqueId) || uniqueId.length !== 16) {
    const got = Buffer.isBuffer(uniqueId) ? `${uniqueId.length} bytes` : typeof uniqueId;
    throw new Error(`${label}: option uniqueId must be a 16-byte Buffer, got ${got}`);
  }
}

/**
 * Throws unless `chunk` starts at `expectedOffset` of a `diskSize`-byte disk and
 * is a whole CHUNK_SIZE chunk with data, or a null stretch of whole chunks.
 */
export function checkChunk(label: string, chunk: DiskChunk, expectedOffset: number, diskSize: number): void {
  if (chunk.offset !== expectedOffset) {
    throw new Error(`${label}: expected the chunk at offset ${expectedOffset}, got offset ${chunk.offset}`);
  }
  if (!isWholeChunks(chunk, diskSize)) {
    throw new Error(`${label}: bad chunk length ${chunk.length} at offset ${chunk.offset} of a ${diskSize}-byte disk`);
  }
  if (chunk.data !== null && chunk.data.length !== chunk.length) {
    throw new Error(
      `${label}: chunk at offset ${chunk.offset} has ${chunk.data.length} bytes of data, not ${chunk.length}`,
    );
  }
}

/** A chunk with data is CHUNK_SIZE bytes, a null one any positive number of chunks; neither ends past the disk. */
export function isWholeChunks(chunk: DiskChunk, diskSize: number): boolean {
  const length = chunk.data === null ? chunk.length : CHUNK_SIZE;
  return chunk.length === length && length > 0 && length % CHUNK_SIZE === 0 && chunk.offset + length <= diskSize;
}

/** For finish(): throws unless the chunks written, up to `nextOffset`, covered the whole disk. */
export function checkWholeDisk(label: string, nextOffset: number, diskSize: number): void {
  if (nextOffset !== diskSize) {
    throw new Error(`${label}: finish() after ${nextOffset} of ${diskSize} bytes`);
  }
}
