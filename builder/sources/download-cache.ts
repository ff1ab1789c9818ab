/**
 * Verified source tarballs, each named by its sha256 in one folder. A file is written
 * under a temporary name, checked and only then renamed into place, so a name in the
 * cache always holds the bytes it names, even after an interrupted build.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { hashFile } from '../tree-hash.js';
import { trackTemporary, untrackTemporary } from '../cleanup.js';

export class DownloadCache {
  constructor(readonly dir: string) {}

  pathOf(sha256: string): string {
    return path.join(this.dir, sha256);
  }

  /** The cached file for `sha256` if it is there and still matches; a damaged one is removed. */
  async lookup(sha256: string): Promise<string | undefined> {
    const file = this.pathOf(sha256);
    if (!(await stat(file).then((s) => s.isFile(), () => false))) return undefined;
    if ((await hashFile(file)) === sha256) return file;
    await rm(file, { force: true });
    return undefined;
  }

  /**
   * Writes a file with `write(tempFile)`, checks it and keeps it as `sha256`.
   * On a mismatch the file is dropped and `mismatch(actual)` thrown.
   */
  async store(sha256: string, write: (tempFile: string) => Promise<void>, mismatch: (actual: string) => Error): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const temp = path.join(this.dir, `.${sha256}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    trackTemporary(temp);
    try {
      await write(temp);
      const actual = await hashFile(temp);
      if (actual !== sha256) throw mismatch(actual);
      await rename(temp, this.pathOf(sha256));
      return this.pathOf(sha256);
    } finally {
      await rm(temp, { force: true });
      untrackTemporary(temp);
    }
  }
}
