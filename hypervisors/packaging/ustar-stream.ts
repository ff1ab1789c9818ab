/** A ustar archive of files, streamed in order (the OVA and the KVM tarball). */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ustarEndOfArchive, ustarHeader, ustarPadding } from '../writers/ustar.js';

export interface TarMember {
  /** Name inside the archive. */
  name: string;
  /** The file to store. */
  path: string;
}

/**
 * The archive's bytes: each member's header (mode 0644, uid/gid 0, no owner
 * names, modification time `mtime`), its file read in 1 MiB pieces, padding;
 * then the end-of-archive blocks. Members are stored in the order given.
 */
export async function* ustarStream(members: readonly TarMember[], mtime: number): AsyncGenerator<Buffer> {
  for (const { name, path } of members) {
    const { size } = await stat(path);
    yield ustarHeader(name, size, mtime);
    let read = 0;
    for await (const piece of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      read += (piece as Buffer).length;
      yield piece as Buffer;
    }
    if (read !== size) throw new Error(`${path} changed size while being archived (${size} → ${read} bytes)`);
    yield ustarPadding(size);
  }
  yield ustarEndOfArchive();
}
