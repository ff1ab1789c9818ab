import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRecipe } from '../recipe/load.js';
import { debianBackend } from '../backends/debian.js';
import { hashInputs, StageCache } from '../cache.js';
import { rootfsKey } from './rootfs.js';
import { configureKey } from './configure.js';
import { componentsKey } from './components.js';
import { diskKey } from './disk.js';
import { kernelKey } from './kernel.js';
import { sourceHash, stageKey, type BuildContext } from './stage.js';

const REPO = path.resolve(import.meta.dirname, '../..');

async function copyProject(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'lbbuild-keys-'));
  await cp(path.join(REPO, 'recipes'), path.join(root, 'recipes'), { recursive: true });
  await cp(path.join(REPO, 'overlays'), path.join(root, 'overlays'), { recursive: true });
  return root;
}

async function keys(recipeFile: string, epoch = 1764028800) {
  const ctx: BuildContext = {
    loaded: await loadRecipe(recipeFile),
    backend: debianBackend,
    cache: new StageCache('/nonexistent'),
    epoch,
    log: () => undefined,
  };
  const rootfs = rootfsKey(ctx);
  const components = await componentsKey(ctx);
  const kernel = await kernelKey(ctx);
  const configure = await configureKey(ctx, [rootfs, components, kernel]);
  return { rootfs, components, kernel, configure, disk: diskKey(ctx, configure) };
}

test('a changed overlay file re-keys configure and disk, not rootfs', async () => {
  const root = await copyProject();
  const recipe = path.join(root, 'recipes/appliance.yaml');
  const before = await keys(recipe);
  assert.deepEqual(await keys(recipe), before, 'keys are stable');
  await appendFile(path.join(root, 'overlays/appliance/etc/issue'), '\n');
  const after = await keys(recipe);
  assert.equal(after.rootfs, before.rootfs);
  assert.equal(after.components, before.components);
  assert.notEqual(after.configure, before.configure);
  assert.notEqual(after.disk, before.disk);
});

test('a disk option re-keys only the disk; a package re-keys everything; so does the epoch', async () => {
  const root = await copyProject();
  const base = await keys(path.join(root, 'recipes/appliance.yaml'));
  const bigger = path.join(root, 'recipes/bigger.yaml');
  await writeFile(bigger, 'extends: appliance.yaml\ndisk:\n  size: 4GiB\n');
  const big = await keys(bigger);
  assert.deepEqual([big.rootfs === base.rootfs, big.configure === base.configure, big.disk === base.disk], [true, true, false]);
  const more = path.join(root, 'recipes/more.yaml');
  await writeFile(more, 'extends: appliance.yaml\nbase:\n  packages: [curl]\n');
  const withCurl = await keys(more);
  assert.notEqual(withCurl.rootfs, base.rootfs);
  assert.notEqual(withCurl.disk, base.disk);
  const later = await keys(path.join(root, 'recipes/appliance.yaml'), 1764028801);
  assert.notEqual(later.rootfs, base.rootfs);
});

test('a changed password re-keys configure without the password appearing in any key input', async () => {
  const root = await copyProject();
  const base = await keys(path.join(root, 'recipes/appliance.yaml'));
  const other = path.join(root, 'recipes/other.yaml');
  await writeFile(other, 'extends: appliance.yaml\nwui:\n  user: loadbalancer\n  password: another\n');
  const changed = await keys(other);
  assert.equal(changed.rootfs, base.rootfs);
  assert.notEqual(changed.configure, base.configure);
});

test('a stage keys alike run from source and compiled to dist/, and falls back to the compiled file', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'lbbuild-keys-'));
  await mkdir(path.join(root, 'dist/builder'), { recursive: true });
  await mkdir(path.join(root, 'builder'));
  await writeFile(path.join(root, 'builder/stage.ts'), 'export const x: number = 1;\n');
  await writeFile(path.join(root, 'dist/builder/stage.js'), 'export const x = 1;\n');
  const source = pathToFileURL(path.join(root, 'builder/stage.ts')).href;
  const compiled = pathToFileURL(path.join(root, 'dist/builder/stage.js')).href;
  assert.equal(stageKey('s', compiled, {}), stageKey('s', source, {}));
  await rm(path.join(root, 'builder/stage.ts'));
  assert.equal(sourceHash(compiled), hashInputs('export const x = 1;\n'));
});
