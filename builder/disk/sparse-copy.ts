/** Copies a file into a disk image at an offset, writing only non-zero blocks, and reports where data went. */
import { open, type FileHandle } from 'node:fs/promises';
import { isAllZero } from './all-zero.js';

/** A byte range of a disk image that holds data: [offset, length]. */
export type Extent = [offset: number, length: number];
const BLOCK = 64 * 1024;

export async function copyIntoDisk(disk: FileHandle, offset: number, sourcePath: string): Promise<Extent[]> {
  const source = await open(sourcePath, 'r');
  const extents: Extent[] = [];
  const buffer = Buffer.alloc(16 * BLOCK);
  try {
    for (let position = 0; ; ) {
      const { bytesRead } = await source.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      for (let start = 0; start < bytesRead; start += BLOCK) {
        const block = buffer.subarray(start, Math.min(start + BLOCK, bytesRead));
        if (isAllZero(block)) continue;
        await disk.write(block, 0, block.length, offset + position + start);
        addExtent(extents, [offset + position + start, block.length]);
      }
      position += bytesRead;
    }
  } finally {
    await source.close();
  }
  return extents;
}

export function addExtent(extents: Extent[], [offset, length]: Extent): void {
  const last = extents.at(-1);
  if (last && last[0] + last[1] === offset) last[1] += length;
  else extents.push([offset, length]);
}
