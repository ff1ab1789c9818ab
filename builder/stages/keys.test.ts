import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadRecipe } from '../recipe/load.js';
import { debianBackend } from '../backends/debian.js';
import { planRootfs } from './rootfs.js';
import { planComponents } from './components.js';
import { planKernel } from './kernel.js';
import { planConfigure } from './configure.js';
import { planDisk } from './disk.js';
import type { PlanContext } from './stage.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const EPOCH = 1764028800;

async function copyProject(parts = ['recipes', 'overlays']): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'lbbuild-keys-'));
  for (const part of parts) await cp(path.join(REPO, part), path.join(root, part), { recursive: true });
  return root;
}

async function keys(recipeFile: string, epoch = EPOCH) {
  const ctx: PlanContext = { loaded: await loadRecipe(recipeFile), backend: debianBackend, epoch };
  const [rootfs, components, kernel] = await Promise.all([planRootfs(ctx), planComponents(ctx), planKernel(ctx)]);
  const configure = await planConfigure(ctx, { rootfs: rootfs.key, components: components?.key, kernel: kernel?.key });
  const disk = await planDisk(ctx, configure.key);
  return { rootfs: rootfs.key, components: components?.key, kernel: kernel?.key, configure: configure.key, disk: disk.key };
}

test('a changed overlay file re-keys configure and disk, not rootfs, components or the kernel', async () => {
  const root = await copyProject();
  const recipe = path.join(root, 'recipes/appliance.yaml');
  const before = await keys(recipe);
  assert.deepEqual(await keys(recipe), before, 'keys are stable');
  await appendFile(path.join(root, 'overlays/appliance/etc/issue'), '\n');
  const after = await keys(recipe);
  assert.deepEqual([after.rootfs, after.components, after.kernel], [before.rootfs, before.components, before.kernel]);
  assert.notEqual(after.configure, before.configure);
  assert.notEqual(after.disk, before.disk);
  await rm(root, { recursive: true });
});

test('a disk option re-keys only the disk; a package re-keys everything after rootfs; so does the epoch; the kernel ignores the epoch', async () => {
  const root = await copyProject();
  const base = await keys(path.join(root, 'recipes/appliance.yaml'));
  await writeFile(path.join(root, 'recipes/bigger.yaml'), 'extends: appliance.yaml\ndisk:\n  size: 4GiB\n');
  const big = await keys(path.join(root, 'recipes/bigger.yaml'));
  assert.deepEqual([big.rootfs === base.rootfs, big.configure === base.configure, big.disk === base.disk], [true, true, false]);
  await writeFile(path.join(root, 'recipes/more.yaml'), 'extends: appliance.yaml\nbase:\n  packages: [curl]\n');
  const withCurl = await keys(path.join(root, 'recipes/more.yaml'));
  assert.notEqual(withCurl.rootfs, base.rootfs);
  assert.notEqual(withCurl.disk, base.disk);
  const later = await keys(path.join(root, 'recipes/appliance.yaml'), EPOCH + 1);
  assert.notEqual(later.rootfs, base.rootfs);
  assert.equal(later.kernel, base.kernel, 'the kernel is dated by its source, not by the build epoch');
  await appendFile(path.join(root, 'recipes/kernel/net.config'), '\nCONFIG_NET_TEAM=y\n');
  assert.notEqual((await keys(path.join(root, 'recipes/appliance.yaml'))).kernel, base.kernel, 'a fragment re-keys the kernel');
  await rm(root, { recursive: true });
});

test('a changed password re-keys configure without the password appearing in any key input', async () => {
  const root = await copyProject();
  const base = await keys(path.join(root, 'recipes/appliance.yaml'));
  const other = path.join(root, 'recipes/other.yaml');
  await writeFile(other, 'extends: appliance.yaml\nwui:\n  user: loadbalancer\n  password: another-secret\n');
  const changed = await keys(other);
  assert.equal(changed.rootfs, base.rootfs);
  assert.notEqual(changed.configure, base.configure);
  const ctx: PlanContext = { loaded: await loadRecipe(other), backend: debianBackend, epoch: EPOCH };
  const configure = await planConfigure(ctx, { rootfs: changed.rootfs });
  assert.doesNotMatch(JSON.stringify(configure.inputs), /another-secret/);
  await rm(root, { recursive: true });
});

/** `lbbuild plan --json` run from a checkout: each stage's name and key. */
async function plannedKeys(checkout: string): Promise<Array<[string, string]>> {
  const result = await execa('node', ['--import', 'tsx', path.join(checkout, 'builder/cli.ts'), 'plan', '--json', '--cache', path.join(checkout, 'no-cache')], {
    cwd: checkout,
    env: { SOURCE_DATE_EPOCH: String(EPOCH) },
  });
  return (JSON.parse(result.stdout) as { stages: Array<{ name: string; key: string }> }).stages.map((s) => [s.name, s.key]);
}

test('keys survive a comment or refactor in a stage module and do not depend on where the checkout is', async () => {
  const parts = ['builder', 'hypervisors', 'test-vms', 'recipes', 'overlays', 'package.json'];
  const [first, second] = [await copyProject(parts), await copyProject(parts)];
  try {
    for (const checkout of [first, second]) await symlink(path.join(REPO, 'node_modules'), path.join(checkout, 'node_modules'));
    for (const stage of ['rootfs', 'components', 'kernel', 'configure', 'disk', 'audit']) {
      await appendFile(path.join(second, `builder/stages/${stage}.ts`), `\n// a comment that changes no behaviour\nconst unused${stage} = 1;\nvoid unused${stage};\n`);
    }
    const [a, b] = await Promise.all([plannedKeys(first), plannedKeys(second)]);
    assert.deepEqual(a.map(([name]) => name), ['rootfs', 'components', 'kernel', 'configure', 'disk', 'audit']);
    assert.deepEqual(b, a);
  } finally {
    await rm(first, { recursive: true, force: true });
    await rm(second, { recursive: true, force: true });
  }
});
