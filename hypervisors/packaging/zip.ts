/**
 * Zip archives of a target's files (archiver), made to be reproducible: entries
 * in the order given, every date the build's epoch, mode 0644, no owner and no
 * extra timestamp fields. Files are streamed, never held in memory; an entry or
 * archive past 4 GiB gets zip64 records automatically.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import archiver from 'archiver';
import { removeOnFailure } from './remove-on-failure.js';

export interface ZipEntry {
  /** Name inside the archive, with "/" between folders. */
  name: string;
  /** The file to store. */
  path: string;
  /** Store without compressing, for data that is compressed already (a streamOptimized VMDK). */
  store?: boolean;
}

/** zlib's default level: near the best ratio on disk images at a fraction of level 9's time. */
const ZLIB_LEVEL = 6;

export function writeZip(zipPath: string, entries: readonly ZipEntry[], mtime: number): Promise<string> {
  return removeOnFailure(zipPath, async () => {
    const archive = archiver('zip', { zlib: { level: ZLIB_LEVEL } });
    const written = pipeline(archive, createWriteStream(zipPath));
    const date = new Date(mtime * 1000);
    // archiver starts reading each source as it is appended and may report one
    // failure more than once, so lasting listeners catch every error.
    const failed = new Promise<never>((_, reject) => {
      archive.on('error', reject);
      for (const entry of entries) {
        const source = createReadStream(entry.path, { highWaterMark: 1024 * 1024 });
        source.on('error', reject);
        archive.append(source, { name: entry.name, date, mode: 0o644, store: entry.store ?? false });
      }
    });
    try {
      await Promise.race([Promise.all([archive.finalize(), written]), failed]);
    } catch (error) {
      archive.abort();
      await written.catch(() => undefined);
      throw error;
    }
  });
}

/** The entry that puts `file` in the archive's folder `folder`, under its own name. */
export function inFolder(folder: string, file: string, store = false): ZipEntry {
  return { name: `${folder}/${path.basename(file)}`, path: file, store };
}
