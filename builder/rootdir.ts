/**
 * Writing into an image's root folder from the host. Paths are resolved the way
 * the image itself would resolve them (absolute symlinks point into the image),
 * so nothing a package or overlay ships can make us write outside the root.
 */
import { copyFile, lstat, mkdir, readdir, readlink, rm, symlink, lutimes, chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listTree } from './tree-hash.js';
import { BuildError } from './errors.js';

/** Host path of `imagePath`'s parent folder inside root, following the image's own symlinks. */
export async function resolveParentInRoot(root: string, imagePath: string): Promise<string> {
  const parts = imagePath.split('/').filter(Boolean);
  const name = parts.pop();
  if (!name || name === '..' || parts.includes('..')) throw new BuildError(`bad path in image: ${imagePath}`);
  let current: string[] = [];
  let pending = parts;
  for (let hops = 0; pending.length > 0; ) {
    const [part, ...rest] = pending as [string, ...string[]];
    pending = rest;
    const candidate = path.join(root, ...current, part);
    const info = await lstat(candidate).catch(() => undefined);
    if (info?.isSymbolicLink()) {
      if (++hops > 40) throw new BuildError(`too many symlinks resolving ${imagePath} in the image`);
      const target = await readlink(candidate);
      const targetParts = target.split('/').filter((p) => p && p !== '.');
      const base = target.startsWith('/') ? [] : current;
      pending = [...targetParts, ...pending];
      current = [...base];
      // ".." in a link target climbs within the image, never above its root.
      while (pending[0] === '..') {
        pending = pending.slice(1);
        current.pop();
      }
      continue;
    }
    if (part === '..') current.pop();
    else current.push(part);
  }
  return path.join(root, ...current);
}

/** Host path where `imagePath` is written; an existing file or link there is replaced, not followed. */
export async function hostPathFor(root: string, imagePath: string): Promise<string> {
  const parent = await resolveParentInRoot(root, imagePath);
  await mkdir(parent, { recursive: true });
  return path.join(parent, path.basename(imagePath));
}

export async function writeImageFile(root: string, imagePath: string, content: string, mode = 0o644): Promise<void> {
  const target = await hostPathFor(root, imagePath);
  await rm(target, { force: true });
  await writeFile(target, content, { mode });
  await chmod(target, mode);
}

/** Copies an overlay folder over the root: files and links replace, folders merge. */
export async function applyOverlay(overlayDir: string, root: string): Promise<void> {
  for (const relative of await listTree(overlayDir)) {
    const source = path.join(overlayDir, relative);
    const info = await lstat(source);
    const target = await hostPathFor(root, `/${relative}`);
    const existing = await lstat(target).catch(() => undefined);
    if (info.isDirectory()) {
      if (existing && !existing.isDirectory()) await rm(target, { recursive: true });
      if (!existing?.isDirectory()) await mkdir(target, { mode: info.mode & 0o7777 });
      continue;
    }
    if (existing) await rm(target, { recursive: true });
    if (info.isSymbolicLink()) await symlink(await readlink(source), target);
    else if (info.isFile()) {
      await copyFile(source, target);
      await chmod(target, info.mode & 0o7777);
    } else throw new BuildError(`overlay ${source}: only files, folders and symlinks are allowed`);
  }
}

/** Clamps every access and modification time in the tree to `epoch`, for reproducible images. */
export async function clampTimes(root: string, epoch: number): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      const { mtimeMs } = await lstat(full);
      const mtime = Math.min(mtimeMs / 1000, epoch);
      await lutimes(full, mtime, mtime);
    }
  };
  await walk(root);
  await lutimes(root, epoch, epoch);
}
