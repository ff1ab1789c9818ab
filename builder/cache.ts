/**
 * Content-addressed stage cache. An entry is a folder named after its stage and key;
 * it is built in a temporary folder and renamed into place only when complete, so an
 * interrupted build never leaves an entry that looks whole. Builds sharing a cache
 * (two pipelines, or test files run side by side) build an entry once: the first takes
 * the entry's lock file and the others wait for it, then read what it made.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { removeTree, removeTreeInBackground, trackTemporary, untrackTemporary } from './cleanup.js';
import { StoppedError } from './errors.js';

export interface CacheEntry {
  dir: string;
  cached: boolean;
}

/** The cache both of the README's commands use unless told otherwise: $LBBUILD_CACHE, else the user's cache folder. */
export function defaultCacheDir(env = process.env): string {
  return env.LBBUILD_CACHE || path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'lbbuild');
}

export interface ProduceOptions {
  /** Stops the wait for another build's lock. */
  signal?: AbortSignal;
  /** Told once when the entry is being built by another process. */
  log?: (line: string) => void;
}

const LOCK_POLL_MS = 500;
/** Lock files this process holds (a lock naming our pid that is not here is a dead process's, its pid reused). */
const heldLocks = new Set<string>();

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
  async produce(stage: string, key: string, build: (tmpDir: string) => Promise<void>, options: ProduceOptions = {}): Promise<CacheEntry> {
    const dir = this.entryDir(stage, key);
    if (await exists(dir)) return { dir, cached: true };
    const lock = await this.lock(`${stage}-${key}`, options);
    try {
      if (await exists(dir)) return { dir, cached: true };
      return { dir, cached: !(await this.buildEntry(stage, key, dir, build)) };
    } finally {
      heldLocks.delete(lock);
      await rm(lock, { force: true });
    }
  }

  /**
   * Takes the lock file of an entry, waiting while a live process holds it; a dead
   * holder's lock is taken over. The lock only saves work: the rename into place is
   * what keeps entries whole, even if two builds ever race past it.
   */
  private async lock(name: string, { signal, log }: ProduceOptions): Promise<string> {
    const file = path.join(this.root, 'locks', name);
    await mkdir(path.dirname(file), { recursive: true });
    // The pid is written first and linked into place, so a lock file is never seen empty.
    const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(mine, `${process.pid}\n`);
    try {
      let told = false;
      for (;;) {
        if (signal?.aborted) throw new StoppedError(`stopped while waiting for another build of ${name}`);
        if (await link(mine, file).then(() => true, (error: NodeJS.ErrnoException) => (error.code === 'EEXIST' ? false : Promise.reject(error)))) {
          heldLocks.add(file);
          return file;
        }
        const content = await readFile(file, 'utf8').catch(() => undefined);
        if (content === undefined) continue; // released just now
        const holder = Number(content.trim());
        const dead = holder === process.pid ? !heldLocks.has(file) : !isAlive(holder);
        if (dead) {
          await rm(file, { force: true });
          continue;
        }
        if (!told) log?.(`waiting for process ${holder}, which is building this stage in the same cache`);
        told = true;
        await sleep(LOCK_POLL_MS, undefined, { signal }).catch(() => undefined);
      }
    } finally {
      await rm(mine, { force: true });
    }
  }

  /** Builds an entry in a temporary folder and renames it into place; false when another build's entry got there first. */
  private async buildEntry(stage: string, key: string, dir: string, build: (tmpDir: string) => Promise<void>): Promise<boolean> {
    const tmp = await this.tempDir(`${stage}-${key}`);
    try {
      await build(tmp);
      await mkdir(path.dirname(dir), { recursive: true });
      const renamed = await rename(tmp, dir).then(() => true, async (error: NodeJS.ErrnoException) => {
        // Another build sharing this cache finished the same entry first: keep theirs.
        if (!['ENOTEMPTY', 'EEXIST'].includes(error.code ?? '') || !(await exists(dir))) throw error;
        removeTree(tmp);
        return false;
      });
      untrackTemporary(tmp);
      return renamed;
    } catch (error) {
      removeTreeInBackground(tmp);
      untrackTemporary(tmp);
      throw error;
    }
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
