import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRecipe } from '../recipe/load.js';
import { debianBackend } from '../backends/debian.js';
import { StageCache } from '../cache.js';
import { UserError } from '../errors.js';
import { KernelConfigError } from '../kernel/config.js';
import { planKernel } from './kernel.js';
import { entriesAfterRemoval } from '../test-support.js';
import type { BuildContext } from './stage.js';

const REPO = path.resolve(import.meta.dirname, '../..');

async function context(recipeText?: string) {
  const root = await mkdtemp(path.join(tmpdir(), 'lbbuild-kernel-'));
  await cp(path.join(REPO, 'recipes'), path.join(root, 'recipes'), { recursive: true });
  await cp(path.join(REPO, 'overlays'), path.join(root, 'overlays'), { recursive: true });
  const recipe = path.join(root, 'recipes', recipeText ? 'k.yaml' : 'appliance.yaml');
  if (recipeText) await writeFile(recipe, recipeText);
  const cacheDir = path.join(root, 'cache');
  const ctx: BuildContext = {
    loaded: await loadRecipe(recipe),
    backend: debianBackend,
    cache: new StageCache(cacheDir),
    epoch: 1764028800,
    signal: new AbortController().signal,
    log: () => undefined,
  };
  return { ctx, root, cacheDir };
}

const kernelKey = async (ctx: BuildContext) => (await planKernel(ctx))?.key;

test('the kernel key follows the source and fragments, not the build epoch; a distro kernel plans no stage', async () => {
  const { ctx, root } = await context();
  const key = await kernelKey(ctx);
  assert.equal(await kernelKey({ ...ctx, epoch: ctx.epoch + 1 }), key);
  await writeFile(path.join(root, 'recipes/kernel/net.config'), '\nCONFIG_NET_TEAM=y\n', { flag: 'a' });
  assert.notEqual(await kernelKey(ctx), key);
  const distro = await context('extends: appliance.yaml\nkernel:\n  source: distro\n');
  assert.equal(await planKernel(distro.ctx), undefined);
  await rm(root, { recursive: true });
  await rm(distro.root, { recursive: true });
});

test('an option whose dependencies are unmet stops the build before compiling, naming the fragment line', async () => {
  // CONFIG_IP_VS_RR needs CONFIG_IP_VS, which this fragment turns off after net.config set it.
  const fragment = '# an appliance without LVS, but with one of its schedulers\n# CONFIG_IP_VS is not set\nCONFIG_IP_VS_RR=m\n';
  const { ctx, root, cacheDir } = await context(
    'extends: appliance.yaml\nkernel:\n  build:\n    fragments: [recipes/kernel/broken.config]\n',
  );
  await writeFile(path.join(root, 'recipes/kernel/broken.config'), fragment);
  await assert.rejects(async () => (await planKernel(ctx))!.run(ctx), (error: Error) => {
    assert.ok(error instanceof KernelConfigError && error instanceof UserError, String(error));
    assert.match(error.message, /recipes\/kernel\/broken\.config:3: CONFIG_IP_VS_RR=m, but the kernel's config has CONFIG_IP_VS_RR=n/);
    assert.doesNotMatch(error.message, /CONFIG_IP_VS=n/, 'the option that did take effect is not reported');
    return true;
  });
  assert.deepEqual(await entriesAfterRemoval(path.join(cacheDir, 'tmp')), [], 'no work folder is left');
  await rm(root, { recursive: true });
});
