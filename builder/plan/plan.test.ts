import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lbbuild, REPO, scratchProject, TEST_EPOCH } from '../../test-vms/build-helpers.js';
import { fileName } from '../../hypervisors/target-builder/appliance-vm.js';
import { generateKeyPairSync } from 'node:crypto';
import { PlanError, UserError } from '../errors.js';
import { fixedEd25519KeyPem } from '../test-support.js';
import { UPDATE_KEY_VARIABLE } from '../update/signing-key.js';
import { planBuild } from './plan.js';

// Scratch projects are no git checkouts: the epoch comes from the environment, as in release pipelines.
process.env.SOURCE_DATE_EPOCH = TEST_EPOCH;

/** Plans `recipeText` (a recipe file in a scratch project) and returns each problem's message. */
async function problems(recipeText: string, targets = 'raw', extra: Record<string, string> = {}): Promise<string[]> {
  const project = await scratchProject();
  for (const [name, text] of Object.entries(extra)) await writeFile(path.join(project, name), text);
  const recipe = path.join(project, 'recipes/variant.yaml');
  await writeFile(recipe, recipeText);
  const cacheDir = await mkdtemp(path.join(tmpdir(), 'lbbuild-plan-cache-'));
  try {
    await planBuild({ recipeFile: recipe, targets, cacheDir });
    return [];
  } catch (error) {
    assert.ok(error instanceof PlanError, `a PlanError, got ${error}`);
    return error.problems.map((p) => p.message.replace(`${project}/`, ''));
  } finally {
    assert.deepEqual(await readdir(cacheDir), [], 'planning writes nothing into the cache');
    await rm(cacheDir, { recursive: true });
    await rm(path.dirname(project), { recursive: true });
  }
}

test('the default recipe plans with no problem, for every target when there is an update signing key', async () => {
  assert.deepEqual(await problems('extends: appliance.yaml\n', 'raw'), []);
  await withUpdateKey(fixedEd25519KeyPem('plan test'), async () => {
    assert.deepEqual(await problems('extends: appliance.yaml\n', 'all'), []);
  });
});

/** Runs `body` with LBBUILD_UPDATE_SIGNING_KEY naming a file holding `pem`. */
async function withUpdateKey(pem: string, body: () => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-plan-key-'));
  await writeFile(path.join(dir, 'key.pem'), pem);
  process.env[UPDATE_KEY_VARIABLE] = path.join(dir, 'key.pem');
  try {
    await body();
  } finally {
    delete process.env[UPDATE_KEY_VARIABLE];
    await rm(dir, { recursive: true });
  }
}

test('the update target without a signing key is refused, saying how to give one', async () => {
  const project = await scratchProject();
  try {
    await assert.rejects(
      planBuild({ recipeFile: path.join(project, 'recipes/appliance.yaml'), targets: 'raw,update', cacheDir: path.join(project, 'cache') }),
      (error: Error) => error instanceof UserError && /^--target update: .*no signing key; set LBBUILD_UPDATE_SIGNING_KEY .* openssl genpkey -algorithm ed25519/.test(error.message),
    );
  } finally {
    await rm(path.dirname(project), { recursive: true });
  }
});

test('a signing key that is not an Ed25519 private key, or lies outside the project, is refused at update.signingKey', async () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const recipe = (file: string) => `extends: appliance.yaml\nupdate:\n  signingKey: ${file}\n`;
  const notEd25519 = await problems(recipe('rsa.pem'), 'update', { 'rsa.pem': rsa });
  assert.equal(notEd25519.length, 1, notEd25519.join('\n'));
  assert.match(notEd25519[0]!, /^recipes\/variant\.yaml:3:\d+: update\.signingKey: \S*rsa\.pem is a rsa key, not Ed25519; make one with: openssl genpkey/);
  const outside = await problems(recipe('../outside.pem'), 'update');
  assert.equal(outside.length, 1, outside.join('\n'));
  assert.match(outside[0]!, /^recipes\/variant\.yaml:3:\d+: update\.signingKey: .*outside\.pem is outside the project root/);
});

test('LBBUILD_UPDATE_SIGNING_KEY naming no key is refused, naming the variable', async () => {
  await withUpdateKey('not a key\n', async () => {
    const project = await scratchProject();
    try {
      await assert.rejects(
        planBuild({ recipeFile: path.join(project, 'recipes/appliance.yaml'), targets: 'update', cacheDir: path.join(project, 'cache') }),
        /^UserError: LBBUILD_UPDATE_SIGNING_KEY: \S+key\.pem is not a readable private key/,
      );
    } finally {
      await rm(path.dirname(project), { recursive: true });
    }
  });
});

test("the image built with a signing key differs from one without: the key's public half is built in", async () => {
  const project = await scratchProject();
  const plan = () => planBuild({ recipeFile: path.join(project, 'recipes/appliance.yaml'), targets: 'raw', cacheDir: path.join(project, 'cache') });
  try {
    const without = (await plan()).stages.configure.key;
    let withKey = '';
    await withUpdateKey(fixedEd25519KeyPem('plan test'), async () => {
      withKey = (await plan()).stages.configure.key;
    });
    assert.notEqual(withKey, without);
  } finally {
    await rm(path.dirname(project), { recursive: true });
  }
});

test('more NICs than a target supports are refused at network.nics, naming the target', async () => {
  const found = await problems('extends: appliance.yaml\nnetwork:\n  nics: 6\n', 'esx');
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, /^recipes\/variant\.yaml:3:\d+: network\.nics: .*6.*target esx supports at most 4/);
});

test("heartbeat's timers out of order are refused at each timer's line", async () => {
  const found = await problems('extends: appliance.yaml\nha:\n  heartbeat:\n    keepaliveMs: 1000\n    warntimeMs: 1000\n    deadtimeMs: 900\n    initdeadMs: 1000\n');
  assert.equal(found.length, 3, found.join('\n'));
  assert.match(found[0]!, /^recipes\/variant\.yaml:5:\d+: ha\.heartbeat\.warntimeMs: is 1000, not above keepaliveMs \(1000\)/);
  assert.match(found[1]!, /^recipes\/variant\.yaml:6:\d+: ha\.heartbeat\.deadtimeMs: is 900, not above warntimeMs/);
  assert.match(found[2]!, /^recipes\/variant\.yaml:7:\d+: ha\.heartbeat\.initdeadMs: is 1000, below twice deadtimeMs \(1800\)/);
});

test('an overlay outside the project is refused at its list item', async () => {
  const found = await problems('extends: appliance.yaml\noverlays:\n  - ../../etc\n');
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, /^recipes\/variant\.yaml:3:\d+: overlays\.2: \.\.\/\.\.\/etc is outside the project root \S+; keep recipe paths inside it$/);
});

test('an audit without a root user, a missing fragment and a gateway outside the subnet are all reported at once', async () => {
  const recipe = [
    'extends: base-debian.yaml',
    'name: x',
    'version: "1"',
    'hostname: x',
    'overlays: []',
    'users: [{ name: setup, password: setup }]',
    'wui: { user: loadbalancer, password: loadbalancer }',
    'network: { address: 10.0.0.2/24, gateway: 10.0.1.1, nics: 1 }',
    'services: { enable: [], disable: [] }',
    'vm: { cpus: 1, memoryMiB: 512 }',
    'kernel:',
    '  source: build',
    '  build:',
    '    source: /usr/src/linux-source-6.1.tar.xz',
    '    fragments: [recipes/kernel/base.config, recipes/kernel/missing.config]',
    'audit: { lynis: { minimumIndex: 80 } }',
    '',
  ].join('\n');
  const found = await problems(recipe);
  assert.equal(found.length, 3, found.join('\n'));
  assert.match(found.join('\n'), /variant\.yaml:8:\d+: network\.gateway: 10\.0\.1\.1 is not in eth0's subnet 10\.0\.0\.2\/24/);
  assert.match(found.join('\n'), /variant\.yaml:16:\d+: audit: Lynis runs as root .* add a user "root"/);
  assert.match(found.join('\n'), /variant\.yaml:15:\d+: kernel\.build\.fragments\.1: recipes\/kernel\/missing\.config does not exist/);
});

test('a kernel release without the -lbbuild suffix and a source that is no kernel tree are refused before compiling', async () => {
  const found = await problems(
    'extends: appliance.yaml\nkernel:\n  source: build\n  build:\n    source: recipes/sources/pound-4.23.tar.gz\n    fragments: [recipes/kernel/plain.config]\n',
    'raw',
    { 'recipes/kernel/plain.config': 'CONFIG_LOCALVERSION="-custom"\n' },
  );
  assert.equal(found.length, 2, found.join('\n'));
  assert.match(found[0]!, /variant\.yaml:5:\d+: kernel\.build\.source: .*pound-4\.23\.tar\.gz is not a Linux source tarball/);
  assert.match(found[1]!, /kernel\.build\.fragments: recipes\/kernel\/plain\.config:1 sets CONFIG_LOCALVERSION="-custom"; .* must end in -lbbuild/);
});

test('a component source that does not match its sha256 is refused at components.1.source, with both digests', async () => {
  const wrong = await problems(
    'extends: appliance.yaml\ncomponents:\n  - name: other\n    version: "1"\n    source: { path: package.json, sha256: "' + '0'.repeat(64) + '" }\n    buildDepends: []\n    depends: []\n    build: [[make]]\n',
    'raw',
    { 'package.json': '{}\n' },
  );
  assert.equal(wrong.length, 1, wrong.join('\n'));
  assert.match(wrong[0]!, /variant\.yaml:3:\d+: components\.1\.source: component other: .*package\.json has sha256 [0-9a-f]{64}, but the recipe pins 0{64}/);
});

test('a missing extends file is blamed on the line that names it', async () => {
  const found = await lbbuild(['validate', path.join(await scratchProject(), 'recipes/missing-parent.yaml')]);
  assert.equal(found.exitCode, 2);
  const project = await scratchProject();
  await writeFile(path.join(project, 'recipes/child.yaml'), '# a child\nextends: nothere.yaml\n');
  const result = await lbbuild(['validate', path.join(project, 'recipes/child.yaml')]);
  assert.equal(result.exitCode, 2, result.all);
  assert.match(result.stderr, /child\.yaml:2:10: extends: cannot read recipe .*nothere\.yaml: ENOENT; point extends: at an existing recipe file/);
});

test('lbbuild image exits 2 on a plan error before any stage runs; lbbuild plan --json shows the graph', async (t) => {
  const project = await scratchProject();
  const recipe = path.join(project, 'recipes/bad.yaml');
  await writeFile(recipe, 'extends: appliance.yaml\nnetwork:\n  nics: 6\n');
  const [out, cache] = [await mkdtemp(path.join(tmpdir(), 'lbbuild-out-')), await mkdtemp(path.join(tmpdir(), 'lbbuild-cache-'))];
  const started = Date.now();
  const bad = await lbbuild(['image', '--recipe', recipe, '--target', 'kvm', '--out', out, '--cache', cache]);
  t.diagnostic(`recipe error to exit: ${Date.now() - started} ms (CLI start included)`);
  assert.equal(bad.exitCode, 2, bad.all);
  assert.match(bad.stderr, /bad\.yaml:3:\d+: network\.nics: .*target kvm supports at most 4/);
  assert.deepEqual([await readdir(out), await readdir(cache)], [[], []], 'nothing in --out or the cache');

  const plan = await lbbuild(['plan', '--json', '--target', 'esx,kvm', '--cache', cache]);
  assert.equal(plan.exitCode, 0, plan.all);
  const graph = JSON.parse(plan.stdout) as { targets: string[]; stages: Array<{ name: string; key: string; cached: boolean; inputs: { parents?: object; tools?: object } }> };
  assert.deepEqual(graph.targets, ['esx', 'kvm']);
  assert.deepEqual(graph.stages.map((s) => [s.name, s.cached]), [
    ['rootfs', false], ['components', false], ['kernel', false], ['configure', false], ['disk', false], ['audit', false],
  ]);
  const configure = graph.stages.find((s) => s.name === 'configure')!;
  assert.deepEqual(Object.keys(configure.inputs.parents ?? {}).sort(), ['components', 'kernel', 'rootfs']);
  assert.ok(Object.keys(graph.stages[0]!.inputs.tools ?? {}).includes('mmdebstrap'));
  await rm(out, { recursive: true });
  await rm(cache, { recursive: true });
});

test('a disk too small for two root slots and the data partition is refused at disk.size, saying what fits', async () => {
  const found = await problems('extends: appliance.yaml\ndisk:\n  size: 400MiB\n  dataSize: 256MiB\n', 'all');
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, /^recipes\/variant\.yaml:3:\d+: disk\.size: 400MiB leaves no room for two root slots .* set disk\.size to at least "451MiB", or make disk\.dataSize smaller$/);
});

test('a data partition below 32 MiB is refused at disk.dataSize', async () => {
  const found = await problems('extends: appliance.yaml\ndisk:\n  dataSize: 16MiB\n');
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, /^recipes\/variant\.yaml:3:\d+: disk\.dataSize: 16MiB is not a whole number of MiB of at least 32 MiB/);
});

test("each model's default recipe plans its target on the appliance's rootfs, components and kernel, with a configure stage of its own and its own artifact names", async () => {
  await withUpdateKey(fixedEd25519KeyPem('plan test'), async () => {
    const plan = (recipe: string, targets: string) =>
      planBuild({ recipeFile: path.join(REPO, recipe), targets, cacheDir: path.join(tmpdir(), 'lbbuild-plan-no-cache') });
    const appliance = await plan('recipes/appliance.yaml', 'raw');
    const configureKeys = new Set([appliance.stages.configure.key]);
    for (const id of ['r20', 'max', '10g', 'r320']) {
      const model = await plan(`recipes/models/${id}.yaml`, `physical-${id}`);
      for (const shared of ['rootfs', 'components', 'kernel'] as const) {
        assert.equal(model.stages[shared]?.key, appliance.stages[shared]?.key, `${id}: the ${shared} stage is the appliance's`);
      }
      configureKeys.add(model.stages.configure.key);
      const [target] = model.targets;
      const product = `LBHW-${id.toUpperCase()}`;
      assert.deepEqual(target!.packaging.map((p) => ('file' in p ? fileName(p.file, model.loaded.recipe) : p.kind)), [
        `${product}-v8.0.img.xz`,
        `${product}-v8.0-installer.iso`,
        `${product}-v8.0.lbupdate`,
      ]);
    }
    assert.equal(configureKeys.size, 5, 'the appliance and each model configure their own image');
  });
});
