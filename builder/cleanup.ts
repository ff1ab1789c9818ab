/**
 * Temporary paths and running tools of the build. On Ctrl-C or a kill the tools are
 * stopped and waited for, then the paths removed before exiting, so neither --out nor
 * the cache keeps anything half-written and no tool keeps running on its own.
 */
import { readFileSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

export interface RunningTool {
  kill(signal?: NodeJS.Signals): boolean;
  /** Settles when the tool has exited, if the caller can tell. */
  exited?: PromiseLike<unknown>;
}

/** How long a stopped tool gets to exit (mmdebstrap unmounts its build root) before SIGKILL: a stop takes seconds. */
const EXIT_GRACE_MS = 4_000;

const temporaries = new Set<string>();
const tools = new Set<RunningTool>();

export function trackTool(tool: RunningTool): () => void {
  tools.add(tool);
  return () => tools.delete(tool);
}

export function trackTemporary(path: string): void {
  temporaries.add(path);
}

export function untrackTemporary(path: string): void {
  temporaries.delete(path);
}

/** Stops running tools (by default every one) and waits for them to exit, killing those that outstay the grace time. */
export async function stopTools(which: Iterable<RunningTool> = tools): Promise<void> {
  const running = [...which];
  for (const tool of running) tool.kill('SIGTERM');
  const exited = Promise.allSettled(running.map((tool) => tool.exited));
  const inTime = await Promise.race([exited.then(() => true), delay(EXIT_GRACE_MS, false)]);
  if (inTime) return;
  for (const tool of running) tool.kill('SIGKILL');
  await Promise.race([exited, delay(2_000)]);
}

/**
 * Removes a temporary tree. A killed tool may leave mounts inside it (a build root's
 * proc, sys, devpts): they are detached first, so removal never reaches into them.
 */
export function removeTree(path: string): void {
  for (const mount of mountsUnder(path)) spawnSync('umount', ['--lazy', mount]);
  rmSync(path, { recursive: true, force: true });
}

/**
 * Detaches mounts below a temporary tree at once and leaves its removal to an `rm` that
 * outlives us: a stopped build exits within seconds, however large its half-built tree
 * (a kernel's is gigabytes). What even that leaves, the next build's removeAbandoned takes.
 */
export function removeTreeInBackground(path: string): void {
  for (const mount of mountsUnder(path)) spawnSync('umount', ['--lazy', mount]);
  spawn('rm', ['-rf', '--one-file-system', '--', path], { detached: true, stdio: 'ignore' }).unref();
}

/** Mount points at or below `root`, deepest first. */
export function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((escaped) => escaped.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((mount) => mount === root || mount.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

export function cleanUpOnSignals(): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Stays registered while we clean up: with no listener left, execa's signal-exit would re-raise the signal and kill us first.
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\nlbbuild: interrupted by ${signal}; stopping tools and removing temporary files\n`);
      await stopTools();
      for (const path of temporaries) removeTreeInBackground(path);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
