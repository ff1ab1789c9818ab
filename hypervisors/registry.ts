/** Every target lbbuild can build, in the order `lbbuild targets` lists them. */
import { UserError } from '../builder/errors.js';
import { requireTools, type HostTool } from '../builder/tools.js';
import type { Target } from './target.js';
import type { Recipe } from '../builder/recipe/schema.js';
import { diskLayout } from '../builder/disk/layout.js';
import { MAX_NICS } from './descriptors/vm.js';
import { esx } from './targets/esx.js';
import { esxOvf09 } from './targets/esx-ovf09.js';
import { hyperv } from './targets/hyperv.js';
import { hypervLegacy } from './targets/hyperv-legacy.js';
import { kvm } from './targets/kvm.js';
import { raw } from './targets/raw.js';
import { vmware } from './targets/vmware.js';
import { xen } from './targets/xen.js';

/** A target, and the host tools its packaging runs, checked as soon as it is selected. */
export type RegisteredTarget = Target & { tools?: readonly HostTool[] };

export const TARGETS: readonly RegisteredTarget[] = [raw, esx, esxOvf09, vmware, hyperv, hypervLegacy, kvm, xen];

/** Parses a --target value (a comma-separated list of names, or "all") and checks the tools the targets need. */
export function selectTargets(spec: string): Target[] {
  const targets = parseTargets(spec);
  requireTools(targets.flatMap((target) => target.tools ?? []));
  return targets;
}

function parseTargets(spec: string): RegisteredTarget[] {
  const names = spec.split(',').map((n) => n.trim()).filter(Boolean);
  if (names.length === 0) throw new UserError(`--target: no target given; valid targets: ${validNames()}, all`);
  if (names.includes('all')) return [...TARGETS];
  return [...new Set(names)].map((name) => {
    const target = TARGETS.find((t) => t.name === name);
    if (!target) throw new UserError(`--target: unknown target "${name}"; valid targets: ${validNames()}, all`);
    return target;
  });
}

const validNames = () => TARGETS.map((t) => t.name).join(', ');

/** What the selected targets cannot take of a recipe, by recipe key. */
export function targetLimitProblems(recipe: Recipe, targets: readonly Target[]): Array<{ keyPath: string[]; problem: string }> {
  const problems: Array<{ keyPath: string[]; problem: string }> = [];
  const { size } = diskLayout(recipe.disk);
  for (const target of targets) {
    if (recipe.network.nics > MAX_NICS) {
      problems.push({ keyPath: ['network', 'nics'], problem: `is ${recipe.network.nics}, but target ${target.name} supports at most ${MAX_NICS} network adapters; set network.nics to ${MAX_NICS} or fewer` });
    }
    if (target.maxDiskSize !== undefined && size > target.maxDiskSize) {
      problems.push({ keyPath: ['disk', 'size'], problem: `${recipe.disk.size} is larger than target ${target.name} allows (${target.maxDiskSize / 2 ** 30} GiB); make the disk smaller or drop that target` });
    }
  }
  return problems;
}
