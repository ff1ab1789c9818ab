/**
 * What a recipe asks of its targets that they cannot give: more network
 * adapters than a descriptor declares, a disk larger than a format takes,
 * memory a hypervisor refuses. Checked when the build is planned, so a bad
 * recipe is refused in a second, not after the build; the descriptors check
 * the same again as they are written.
 */
import { diskLayout } from '../builder/disk/layout.js';
import type { Recipe } from '../builder/recipe/schema.js';
import type { Target } from './target.js';

export interface LimitProblem {
  /** The recipe key, e.g. "network.nics". */
  field: string;
  /** What is wrong, naming the value and the target, and what to do. */
  problem: string;
}

/** Every limit of `targets` that `recipe` exceeds; empty when it fits them all. A disk with no valid layout throws diskLayout's UserError. */
export function targetLimitProblems(recipe: Recipe, targets: readonly Target[]): LimitProblem[] {
  const diskSize = diskLayout(recipe.disk).size;
  const { nics } = recipe.network;
  const { memoryMiB } = recipe.vm;
  const problems: LimitProblem[] = [];
  for (const target of targets) {
    const { name, maxNics, maxDiskSize, memoryRule } = target;
    if (maxNics !== undefined && nics > maxNics) {
      problems.push({
        field: 'network.nics',
        problem: `is ${nics}, but target ${name} supports at most ${maxNics} network adapters; set network.nics to ${maxNics} or fewer, or drop that target`,
      });
    }
    if (maxDiskSize !== undefined && diskSize > maxDiskSize) {
      problems.push({
        field: 'disk.size',
        problem: `is ${recipe.disk.size}, but target ${name} takes disks of at most ${showBytes(maxDiskSize)}; make the disk smaller or drop that target`,
      });
    }
    if (memoryRule && memoryMiB % memoryRule.multipleOfMiB !== 0) {
      const { hypervisor, multipleOfMiB } = memoryRule;
      problems.push({
        field: 'vm.memoryMiB',
        problem: `is ${memoryMiB}, but target ${name} (${hypervisor}) needs a multiple of ${multipleOfMiB} MiB; set vm.memoryMiB to a multiple of ${multipleOfMiB}, or drop that target`,
      });
    }
  }
  return problems;
}

/** "2040 GiB" when whole, else the exact bytes (VMDK's limit is 2 TiB less one sector). */
function showBytes(bytes: number): string {
  const GiB = 1024 ** 3;
  return bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${bytes} bytes`;
}
