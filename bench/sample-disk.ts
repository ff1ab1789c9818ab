/**
 * The benchmark's raw disks: a file system's worth of real files (binaries,
 * libraries, scripts; partly compressible) in an ext4 partition at 1 MiB, or a
 * given raw disk, laid sparse into a virtual disk of the asked size. The extent
 * list says where the data is, as the disk stage's extents.json does.
 */
import { copyFile, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { copyIntoDisk, type Extent } from '../builder/disk/sparse-copy.js';

const MiB = 1024 * 1024;
/** Where the files come from, walked in sorted order until enough bytes are collected. */
const SOURCE_TREES = ['/usr/bin', '/usr/sbin', '/usr/lib', '/usr/share'];

/** An ext4 image of `fsSize` bytes holding about `dataBytes` of the host's files. */
export async function makeFilesystemImage(image: string, fsSize: number, dataBytes: number, workDir: string): Promise<number> {
  const tree = path.join(workDir, 'tree');
  let collected = 0;
  const collect = async (dir: string, into: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const from = path.join(dir, entry.name);
      if (entry.isDirectory()) await collect(from, path.join(into, entry.name));
      if (!entry.isFile()) continue;
      const { size } = await stat(from);
      if (collected + size > dataBytes) continue;
      await mkdir(into, { recursive: true });
      await copyFile(from, path.join(into, entry.name));
      collected += size;
    }
  };
  for (const root of SOURCE_TREES) await collect(root, path.join(tree, root));
  await execa('mke2fs', ['-q', '-t', 'ext4', '-E', 'root_owner=0:0', '-d', tree, '-F', image, `${fsSize / 1024}k`]);
  await rm(tree, { recursive: true, force: true });
  return collected;
}

/** A sparse raw disk of `diskSize` bytes holding `source` at `offset`; returns where the data went. */
export async function layDisk(disk: string, diskSize: number, source: string, offset: number): Promise<Extent[]> {
  const file = await open(disk, 'w');
  try {
    await file.truncate(diskSize);
    return await copyIntoDisk(file, offset, source);
  } finally {
    await file.close();
  }
}

export const PARTITION_OFFSET = MiB;
