/** targetLimitProblems over the real target records: each limit refused with its field named, the default recipe accepted. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { UserError } from '../../builder/errors.js';
import { loadRecipe } from '../../builder/recipe/load.js';
import type { Recipe } from '../../builder/recipe/schema.js';
import { checkMemoryRule, DescriptorError, type VirtualMachine } from '../descriptors/vm.js';
import { defaultRecipeFor, selectTargets, TARGETS as ALL_TARGETS, targetLimitProblems } from '../registry.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const VM_TARGETS = ['esx', 'esx-ovf09', 'vmware', 'hyperv', 'hyperv-legacy', 'kvm', 'xen'];
/** The targets of the virtual appliance's recipe. */
const TARGETS = ALL_TARGETS.filter((t) => !t.model);

let recipe: Recipe;
let r20: Recipe;

before(async () => {
  recipe = (await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'))).recipe;
  r20 = (await loadRecipe(path.join(REPO, 'recipes/models/r20.yaml'))).recipe;
});

/** The default recipe with `change` applied to a copy. */
function variant(change: (r: Recipe) => void): Recipe {
  const copy = structuredClone(recipe);
  change(copy);
  return copy;
}

/** The names of the targets a problem of `field` is reported for. */
function targetsRefusing(problems: ReturnType<typeof targetLimitProblems>, field: string): string[] {
  return problems.filter((p) => p.field === field).map((p) => /target (\S+)/.exec(p.problem)![1]!);
}

describe('targetLimitProblems', () => {
  test('the default recipe fits every target', () => {
    assert.deepEqual(targetLimitProblems(recipe, TARGETS), []);
  });

  test('more NICs than a descriptor declares are refused for every VM target', () => {
    const problems = targetLimitProblems(variant((r) => (r.network.nics = 6)), TARGETS);
    assert.deepEqual(targetsRefusing(problems, 'network.nics'), VM_TARGETS);
    assert.equal(problems.length, VM_TARGETS.length);
    assert.deepEqual(problems.find((p) => p.problem.includes('target esx ')), {
      field: 'network.nics',
      problem: 'is 6, but target esx supports at most 4 network adapters; set network.nics to 4 or fewer, or drop that target',
    });
  });

  test('a disk larger than a format takes is refused for those targets only', () => {
    const vhdTooSmall = targetLimitProblems(variant((r) => (r.disk.size = '2041GiB')), TARGETS);
    assert.deepEqual(targetsRefusing(vhdTooSmall, 'disk.size'), ['hyperv-legacy', 'xen']);
    assert.equal(
      vhdTooSmall[0]!.problem,
      'is 2041GiB, but target hyperv-legacy takes disks of at most 2040 GiB; make the disk smaller or drop that target',
    );
    const vmdkTooSmall = targetLimitProblems(variant((r) => (r.disk.size = '2TiB')), TARGETS);
    assert.deepEqual(targetsRefusing(vmdkTooSmall, 'disk.size'), ['esx', 'esx-ovf09', 'vmware', 'hyperv-legacy', 'xen']);
    assert.match(vmdkTooSmall[0]!.problem, /target esx takes disks of at most 2199023255040 bytes;/);
  });

  test('memory a hypervisor refuses is refused for its targets', () => {
    const notFourMiB = targetLimitProblems(variant((r) => (r.vm.memoryMiB = 2050)), TARGETS);
    assert.deepEqual(targetsRefusing(notFourMiB, 'vm.memoryMiB'), ['esx', 'esx-ovf09', 'vmware']);
    assert.equal(
      notFourMiB[0]!.problem,
      'is 2050, but target esx (VMware) needs a multiple of 4 MiB; set vm.memoryMiB to a multiple of 4, or drop that target',
    );
    const odd = targetLimitProblems(variant((r) => (r.vm.memoryMiB = 2049)), TARGETS);
    assert.deepEqual(targetsRefusing(odd, 'vm.memoryMiB'), ['esx', 'esx-ovf09', 'vmware', 'hyperv', 'hyperv-legacy']);
  });

  test('only the selected targets are checked', () => {
    const small = variant((r) => (r.network.nics = 6));
    assert.deepEqual(targetLimitProblems(small, TARGETS.filter((t) => t.name === 'raw')), []);
  });

  test('a disk size with no valid layout is diskLayout’s error', () => {
    assert.throws(() => targetLimitProblems(variant((r) => (r.disk.size = 2 * 1024 ** 3 + 512)), TARGETS), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /^disk\.size: /);
      return true;
    });
  });

  test('the plan refuses exactly the memory sizes the descriptors refuse', () => {
    for (const target of TARGETS.filter((t) => t.memoryRule)) {
      for (const memoryMiB of [2048, 2049, 2050, 2052]) {
        const planned = targetLimitProblems(variant((r) => (r.vm.memoryMiB = memoryMiB)), [target]).length > 0;
        const vm = { memoryMiB } as VirtualMachine;
        const written = (() => {
          try {
            checkMemoryRule(vm, target.memoryRule!);
            return false;
          } catch (error) {
            return error instanceof DescriptorError;
          }
        })();
        assert.equal(planned, written, `${target.name}, ${memoryMiB} MiB`);
      }
    }
  });
});

describe('physical models and their recipes', () => {
  const named = (...names: string[]) => ALL_TARGETS.filter((t) => names.includes(t.name));

  test("a model's recipe builds its physical target and raw, nothing else", () => {
    assert.deepEqual(targetLimitProblems(r20, named('physical-r20', 'raw')), []);
    assert.deepEqual(targetLimitProblems(r20, named('esx')), [
      {
        field: 'model',
        problem: 'is r20, a physical model, but target esx is a virtual machine; build the model with --target physical-r20, and esx from a recipe without a model (recipes/appliance.yaml)',
      },
    ]);
    assert.deepEqual(targetLimitProblems(r20, named('physical-max')), [
      { field: 'model', problem: "this recipe is the r20 model's, but target physical-max builds the max model; build it with --recipe recipes/models/max.yaml" },
    ]);
    assert.deepEqual(targetLimitProblems(recipe, named('physical-r20')), [
      { field: 'model', problem: 'this recipe has no model, but target physical-r20 builds the r20 model; build it with --recipe recipes/models/r20.yaml' },
    ]);
  });

  test("a model's installer needs the appliance's own kernel", () => {
    const distro = structuredClone(r20);
    distro.kernel = { source: 'distro' } as Recipe['kernel'];
    assert.deepEqual(targetsRefusing(targetLimitProblems(distro, named('physical-r20')), 'kernel.source'), ['physical-r20']);
  });

  test('"all" is every target of the recipe', () => {
    assert.deepEqual(selectTargets('all', r20).map((t) => t.name), ['raw', 'physical-r20']);
    assert.deepEqual(selectTargets('all', recipe).map((t) => t.name), TARGETS.map((t) => t.name));
  });

  test('without --recipe a physical target builds its model recipe', () => {
    assert.equal(defaultRecipeFor('physical-r20,raw', 'recipes/appliance.yaml'), 'recipes/models/r20.yaml');
    assert.equal(defaultRecipeFor('esx,kvm', 'recipes/appliance.yaml'), 'recipes/appliance.yaml');
    assert.equal(defaultRecipeFor('raw', 'recipes/appliance.yaml'), 'recipes/appliance.yaml');
    assert.throws(
      () => defaultRecipeFor('physical-r20,physical-max', 'recipes/appliance.yaml'),
      (error: Error) => error instanceof UserError && /physical-r20: recipes\/models\/r20\.yaml, physical-max: recipes\/models\/max\.yaml\); run lbbuild image once for each$/.test(error.message),
    );
  });

  test('every model recipe builds its target', async () => {
    for (const target of ALL_TARGETS.filter((t) => t.model)) {
      const model = (await loadRecipe(path.join(REPO, target.model!.recipe))).recipe;
      assert.equal(model.model?.id, target.model!.id);
      assert.deepEqual(targetLimitProblems(model, [target]), [], target.name);
    }
  });
});
