/**
 * SOURCE_DATE_EPOCH of a build: the variable if set, else the time of the last git
 * commit that changed the recipe files, so a checkout builds the same image today and
 * tomorrow, and a commit elsewhere in the project does not invalidate the stage cache.
 */
import { execFileSync } from 'node:child_process';
import { UserError } from './errors.js';

export interface Epoch {
  epoch: number;
  source: 'SOURCE_DATE_EPOCH' | 'git commit';
}

export function resolveEpoch(projectRoot: string, recipeFiles: string[], env = process.env): Epoch {
  const fromEnv = env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^\d+$/.test(fromEnv)) throw new UserError(`SOURCE_DATE_EPOCH="${fromEnv}" is not a number of seconds since 1970; unset it or give e.g. 1764028800`);
    return { epoch: Number(fromEnv), source: 'SOURCE_DATE_EPOCH' };
  }
  try {
    const out = execFileSync('git', ['-C', projectRoot, 'log', '-1', '--format=%ct', '--', ...recipeFiles], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (/^\d+\s*$/.test(out)) return { epoch: Number(out.trim()), source: 'git commit' };
  } catch {
    // not a git checkout: fall through
  }
  throw new UserError(`set SOURCE_DATE_EPOCH (seconds since 1970): ${projectRoot} is not a git checkout with the recipe committed, whose commit time could be used`);
}
