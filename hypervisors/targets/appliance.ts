/** What every VM target takes from the recipe: the guide's file names and the virtual machine. */
import type { Recipe } from '../../builder/recipe/schema.js';
import type { VirtualDisk, VirtualMachine } from '../descriptors/vm.js';
import { shortVersion, type TargetContext } from '../target.js';
import { targetIds } from './ids.js';

/** The guide's download names: "LBVMESX" → "LBVMESXv8". */
export const artifactBase = (recipe: Recipe, prefix: string) => `${prefix}${shortVersion(recipe)}`;

/** The name the guide gives the XVA, also used for the KVM files: "Loadbalancer.org_VA_V8.0". */
export const applianceFileBase = (recipe: Recipe) => `Loadbalancer.org_VA_V${recipe.version}`;

/** The appliance's virtual machine as `target` describes it: CPUs, memory and NICs from the recipe. */
export function applianceVm(ctx: TargetContext, target: string, disk: VirtualDisk): VirtualMachine {
  const { recipe } = ctx;
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
