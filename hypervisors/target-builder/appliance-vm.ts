/** What every target takes from the recipe: its file names and the virtual machine. */
import type { Recipe } from '../../builder/recipe/schema.js';
import type { VirtualDisk, VirtualMachine } from '../descriptors/vm.js';
import type { NameTemplate } from '../target.js';
import { targetIds } from './ids.js';

/** "LBVMESXv{major}.zip" → "LBVMESXv8.zip", "Loadbalancer.org_VA_V{version}.xva" → "Loadbalancer.org_VA_V8.0.xva". */
export function fileName(template: NameTemplate, recipe: Recipe): string {
  if (template.includes('{product}') && !recipe.model) throw new Error(`${template}: {product} needs a recipe with a model`);
  return template
    .replaceAll('{major}', recipe.version.split('.')[0]!)
    .replaceAll('{version}', recipe.version)
    .replaceAll('{product}', recipe.model?.product ?? '');
}

/** The appliance's virtual machine as `target` describes it: CPUs, memory and NICs from the recipe. */
export function applianceVm(recipe: Recipe, target: string, disk: VirtualDisk): VirtualMachine {
  return {
    name: `${recipe.name} v${recipe.version}`,
    version: recipe.version,
    cpus: recipe.vm.cpus,
    memoryMiB: recipe.vm.memoryMiB,
    nics: recipe.network.nics,
    disk,
    uuid: targetIds(recipe, target).uuid('vm'),
  };
}
