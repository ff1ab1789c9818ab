/** Path rules: files named by a recipe stay inside the recipe's project root. */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.js';

/** The folder holding `recipes/` for a recipe at …/recipes/x.yaml; else the recipe's own folder. */
export function projectRootOf(recipeFile: string): string {
  for (let dir = path.dirname(recipeFile); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (path.basename(dir) === 'recipes') return path.dirname(dir);
  }
  return path.dirname(recipeFile);
}

/** Returns `candidate` if it (after resolving symlinks) lies inside `root`, else throws. */
export function resolveInside(root: string, candidate: string): string {
  const realRoot = realpathSync(root);
  const real = existsSync(candidate) ? realpathSync(candidate) : path.resolve(candidate);
  const relative = path.relative(realRoot, real);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new UserError(`${candidate} is outside the project root ${root}; keep recipe paths inside it`);
  }
  return real;
}
