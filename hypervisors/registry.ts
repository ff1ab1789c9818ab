/** Every target lbbuild can build, in the order `lbbuild targets` lists them. */
import { UserError } from '../builder/errors.js';
import type { Target } from './target.js';
import { raw } from './targets/raw.js';

export const TARGETS: readonly Target[] = [raw];

/** Parses a --target value: a comma-separated list of names, or "all". */
export function selectTargets(spec: string): Target[] {
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
