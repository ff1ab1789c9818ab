/** A content hash of a folder tree: paths, types, modes, file contents and link targets. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

export async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const relative of await listTree(root)) {
    const full = path.join(root, relative);
    const info = await lstat(full);
    hash.update(`${relative}\0${info.mode.toString(8)}\0`);
    if (info.isSymbolicLink()) hash.update(`link:${await readlink(full)}\0`);
    else if (info.isFile()) hash.update(`file:${await hashFile(full)}\0`);
  }
  return hash.digest('hex');
}

/** Every entry below root, relative, sorted so the order never depends on the filesystem. */
export async function listTree(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(path.join(root, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const entry of entries) {
    const relative = path.join(prefix, entry.name);
    out.push(relative);
    if (entry.isDirectory()) out.push(...(await listTree(root, relative)));
  }
  return out;
}

export async function hashFile(file: string, algorithm = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
