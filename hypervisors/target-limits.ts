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
    const recipeKind = recipeKindProblem(recipe, target);
    if (recipeKind) problems.push(recipeKind);
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

/** A physical model's target builds that model's recipe only; a virtual machine's, recipes without a model. */
function recipeKindProblem(recipe: Recipe, target: Target): LimitProblem | undefined {
  const { name, model, anyRecipe } = target;
  if (model && recipe.model?.id !== model.id) {
    const has = recipe.model ? `is the ${recipe.model.id} model's` : 'has no model';
    return { field: 'model', problem: `this recipe ${has}, but target ${name} builds the ${model.id} model; build it with --recipe ${model.recipe}` };
  }
  if (model && recipe.kernel.source !== 'build') {
    return { field: 'kernel.source', problem: `is ${recipe.kernel.source}, but target ${name} makes an installer that boots the appliance's own kernel, which has every driver built in; set kernel.source to build` };
  }
  if (!model && !anyRecipe && recipe.model) {
    return { field: 'model', problem: `is ${recipe.model.id}, a physical model, but target ${name} is a virtual machine; build the model with --target physical-${recipe.model.id}, and ${name} from a recipe without a model (recipes/appliance.yaml)` };
  }
  return undefined;
}

/** "2040 GiB" when whole, else the exact bytes (VMDK's limit is 2 TiB less one sector). */
function showBytes(bytes: number): string {
  const GiB = 1024 ** 3;
  return bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${bytes} bytes`;
}
