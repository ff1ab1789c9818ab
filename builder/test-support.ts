/** Helpers of the builder's unit tests. */
import { readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * The entries of `dir` once a failed build's background removal (cleanup.ts) is done,
 * waiting up to `seconds` for it: a generous bound, since removing a kernel tree on a busy
 * machine has taken minutes.
 */
export async function entriesAfterRemoval(dir: string, seconds = 300): Promise<string[]> {
  const entries = () => readdir(dir).catch(() => [] as string[]);
  for (let waited = 0; (await entries()).length && waited < seconds * 10; waited++) await delay(100);
  return entries();
}
