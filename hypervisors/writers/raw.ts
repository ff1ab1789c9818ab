/** The raw disk itself, written sparse: only non-zero chunks are written, holes stay holes. */
import { open, rm } from 'node:fs/promises';
import type { DiskImageWriter, DiskImageWriterOptions } from './types.js';

export async function createRawWriter({ path, diskSize }: DiskImageWriterOptions): Promise<DiskImageWriter> {
  const file = await open(path, 'w');
  await file.truncate(diskSize);
  return {
    async write({ offset, data }) {
      if (data) await file.write(data, 0, data.length, offset);
    },
    async finish() {
      await file.close();
    },
    async abort() {
      await file.close().catch(() => undefined);
      await rm(path, { force: true });
    },
  };
}
