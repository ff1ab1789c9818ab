/**
 * Content-addressed stage cache. An entry is a folder named after its stage and key;
 * it is built in a temporary folder and renamed into place only when complete, so an
 * interrupted build never leaves an entry that looks whole.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { removeTree, removeTreeInBackground, trackTemporary, untrackTemporary } from './cleanup.js';

export interface CacheEntry {
  dir: string;
  cached: boolean;
}

/** The cache both of the README's commands use unless told otherwise: $LBBUILD_CACHE, else the user's cache folder. */
export function defaultCacheDir(env = process.env): string {
  return env.LBBUILD_CACHE || path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'lbbuild');
}

export class StageCache {
  constructor(readonly root: string) {}

  entryDir(stage: string, key: string): string {
    return path.join(this.root, 'stages', `${stage}-${key}`);
  }

  has(stage: string, key: string): Promise<boolean> {
    return exists(this.entryDir(stage, key));
  }

  /** Where verified source downloads are kept, by sha256, so a second build fetches nothing. */
  get downloads(): string {
    return path.join(this.root, 'downloads');
  }

  /** Returns the entry for (stage, key), building it with `build(tmpDir)` if absent. */
  async produce(stage: string, key: string, build: (tmpDir: string) => Promise<void>): Promise<CacheEntry> {
    const dir = this.entryDir(stage, key);
    if (await exists(dir)) return { dir, cached: true };
    const tmp = await this.tempDir(`${stage}-${key}`);
    try {
      await build(tmp);
      await mkdir(path.dirname(dir), { recursive: true });
      await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
        // Another build sharing this cache finished the same entry first: keep theirs.
        if (!['ENOTEMPTY', 'EEXIST'].includes(error.code ?? '') || !(await exists(dir))) throw error;
        removeTree(tmp);
      });
      untrackTemporary(tmp);
    } catch (error) {
      removeTreeInBackground(tmp);
      untrackTemporary(tmp);
      throw error;
    }
    return { dir, cached: false };
  }

  /** Runs `body` in a fresh work folder, removed afterwards (in the background when it failed, so a stop is quick). */
  async withWorkFolder<T>(label: string, body: (dir: string) => Promise<T>): Promise<T> {
    const dir = await this.tempDir(label);
    try {
      const result = await body(dir);
      removeTree(dir);
      return result;
    } catch (error) {
      removeTreeInBackground(dir);
      throw error;
    } finally {
      untrackTemporary(dir);
    }
  }

  /** A fresh folder under tmp/, named with our pid so later runs can tell ours from abandoned ones. */
  async tempDir(label: string): Promise<string> {
    const dir = path.join(this.root, 'tmp', `${label}.${process.pid}.${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    trackTemporary(dir);
    return dir;
  }

  /** Removes temporary folders left by builds that were killed. */
  async removeAbandoned(): Promise<void> {
    const tmpRoot = path.join(this.root, 'tmp');
    const names = await readdir(tmpRoot).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(name.split('.').at(-2));
      if (pid !== process.pid && !isAlive(pid)) removeTree(path.join(tmpRoot, name));
    }
  }
}


async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
