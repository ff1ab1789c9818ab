/** What a configure step gets: the recipe, the build's epoch, its log and its stop signal. */
import { run } from '../exec.js';
import type { Recipe } from '../recipe/schema.js';

export interface StepContext {
  recipe: Recipe;
  epoch: number;
  log: (line: string) => void;
  signal: AbortSignal;
}

/** Runs a command inside the image root, with the build's epoch for any timestamp it writes. */
export function inChroot(root: string, ctx: StepContext, command: string[], input?: string): Promise<string> {
  return run('chroot', [root, ...command], { env: { SOURCE_DATE_EPOCH: String(ctx.epoch) }, onLine: ctx.log, signal: ctx.signal, input });
}
