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

export { targetLimitProblems, type LimitProblem } from './target-limits.js';

export const TARGETS: readonly BuildableTarget[] = [raw, esx, esxOvf09, vmware, hyperv, hypervLegacy, kvm, xen, update].map(buildable);

/** Parses a --target value (a comma-separated list of names, or "all") and checks the tools the targets need. */
export function selectTargets(spec: string): BuildableTarget[] {
  const targets = parseTargets(spec);
  requireTools(targets.flatMap((target) => target.tools ?? []));
  return targets;
}

function parseTargets(spec: string): BuildableTarget[] {
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
