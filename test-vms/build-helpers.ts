/** Runs the lbbuild CLI for tests, as a release pipeline would. */
import { execa } from 'execa';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveEpoch } from '../builder/epoch.js';
import { defaultCacheDir } from '../builder/cache.js';

export const REPO = path.resolve(import.meta.dirname, '..');
/**
 * The epoch `lbbuild image` takes for the default recipe in this checkout (the last commit
 * that changed its files), also for the recipes tests derive from it, so the tests reuse
 * what the README's first command built, and keys move only when the recipes change.
 */
export const TEST_EPOCH = String(resolveEpoch(REPO, ['recipes/appliance.yaml', 'recipes/base-debian.yaml'].map((f) => path.join(REPO, f))).epoch);
/** The CLI's default cache (LBBUILD_TEST_CACHE names another), so the README's two commands build nothing twice. */
export const TEST_CACHE = process.env.LBBUILD_TEST_CACHE ?? defaultCacheDir();

export function lbbuild(args: string[], options: { env?: Record<string, string> } = {}) {
  return execa(process.execPath, ['--import', 'tsx', path.join(REPO, 'builder/cli.ts'), ...args], {
    cwd: REPO,
    env: { SOURCE_DATE_EPOCH: TEST_EPOCH, ...options.env },
    reject: false,
    all: true,
  });
}

export interface ImageSummary {
  artifacts: Array<{ file: string; sha256: string; size: number }>;
  stages: Array<{ name: string; key: string; cached: boolean }>;
  durationsMs: Record<string, number>;
  manifest: string;
}

/** `lbbuild image --json`; throws with the CLI's output when it fails. */
export async function buildImage(args: string[], options: { env?: Record<string, string> } = {}): Promise<ImageSummary> {
  const result = await lbbuild(['image', '--json', ...args], options);
  if (result.exitCode !== 0) throw new Error(`lbbuild image ${args.join(' ')} exited ${result.exitCode}:\n${result.all}`);
  return JSON.parse(result.stdout) as ImageSummary;
}

/**
 * A benchmark's raw disk: the one its command line names, else the default appliance built
 * into `out` the way the tests build it (a cache hit after them).
 */
export async function benchImage(given: string | undefined, out: string): Promise<string> {
  if (given) return given;
  const summary = await buildImage(['--target', 'raw', '--out', out, '--cache', TEST_CACHE]);
  return summary.artifacts.find((a) => a.file.endsWith('.raw'))!.file;
}

/**
 * A copy of the project's recipes (with Pound's source) and overlays in a folder of its own
 * inside a temp folder, for recipes that vary the default; remove its parent afterwards.
 */
export async function scratchProject(): Promise<string> {
  const parent = await mkdtemp(path.join(tmpdir(), 'lbbuild-project-'));
  const root = path.join(parent, 'main');
  await cp(path.join(REPO, 'recipes'), path.join(root, 'recipes'), { recursive: true });
  await cp(path.join(REPO, 'overlays'), path.join(root, 'overlays'), { recursive: true });
  return root;
}
