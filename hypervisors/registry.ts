/** Every target lbbuild can build, in the order `lbbuild targets` lists them. */
import { UserError } from '../builder/errors.js';
import { requireTools } from '../builder/tools.js';
import { buildable, type BuildableTarget } from './target-builder/build-target.js';
import { esx } from './targets/esx.js';
import { esxOvf09 } from './targets/esx-ovf09.js';
import { hyperv } from './targets/hyperv.js';
import { hypervLegacy } from './targets/hyperv-legacy.js';
import { kvm } from './targets/kvm.js';
import { raw } from './targets/raw.js';
import { update } from './targets/update.js';
import { vmware } from './targets/vmware.js';
import { xen } from './targets/xen.js';
import { physicalTargets } from './targets/physical.js';
import type { Recipe } from '../builder/recipe/schema.js';

export { targetLimitProblems, type LimitProblem } from './target-limits.js';

export const TARGETS: readonly BuildableTarget[] = [raw, esx, esxOvf09, vmware, hyperv, hypervLegacy, kvm, xen, update, ...physicalTargets].map(buildable);

/**
 * Parses a --target value (a comma-separated list of names, or "all": every target that
 * builds `recipe`) and checks the tools the targets need.
 */
export function selectTargets(spec: string, recipe?: Recipe): BuildableTarget[] {
  const targets = parseTargets(spec, recipe);
  requireTools(targets.flatMap((target) => target.tools ?? []));
  return targets;
}

/**
 * The recipe a --target value builds when --recipe is not given: a physical model's
 * targets build its recipe, the others `fallback`. Throws when they need different recipes.
 */
export function defaultRecipeFor(spec: string, fallback: string): string {
  const names = targetNames(spec);
  if (names.includes('all')) return fallback;
  const targets = names.map(findTarget).filter((t) => !t.anyRecipe);
  const recipes = new Map(targets.map((t) => [t.model?.recipe ?? fallback, t.name]));
  if (recipes.size > 1) {
    const list = [...recipes].map(([recipe, name]) => `${name}: ${recipe}`).join(', ');
    throw new UserError(`--target: these targets build from different recipes (${list}); run lbbuild image once for each`);
  }
  return [...recipes.keys()][0] ?? fallback;
}

function parseTargets(spec: string, recipe: Recipe | undefined): BuildableTarget[] {
  const names = targetNames(spec);
  if (names.includes('all')) return TARGETS.filter((t) => !recipe || t.anyRecipe || t.model?.id === recipe.model?.id);
  return [...new Set(names)].map(findTarget);
}

function targetNames(spec: string): string[] {
  const names = spec.split(',').map((n) => n.trim()).filter(Boolean);
  if (names.length === 0) throw new UserError(`--target: no target given; valid targets: ${validNames()}, all`);
  return names;
}

function findTarget(name: string): BuildableTarget {
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new UserError(`--target: unknown target "${name}"; valid targets: ${validNames()}, all`);
  return target;
}

const validNames = () => TARGETS.map((t) => t.name).join(', ');
