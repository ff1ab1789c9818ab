/**
 * The foundation end to end: build the default appliance, rebuild it warm, rebuild it
 * in a fresh cache bit-identically, refuse bad input, survive an interrupt, then boot it
 * with SeaBIOS and with OVMF and check what the v8 guide says the appliance does.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import path from 'node:path';
import { buildImage, lbbuild, scratchProject, TEST_CACHE, type ImageSummary } from './build-helpers.js';
import { bootVm, kvmUsable } from '../builder/vm/qemu.js';
import { applianceChecks, bootChecks, builtKernelChecks, WUI_HTTP, WUI_HTTPS, type Session } from './checks.js';
import { hardeningChecks, PROBE_PORT } from './hardening-checks.js';
import { slotChecks, slotFallbackCheck } from './slot-checks.js';
import { entriesAfterRemoval } from '../builder/test-support.js';
import { parseLynisReport } from '../builder/audit/lynis-report.js';

const temp = (label: string) => mkdtemp(path.join(tmpdir(), `lbbuild-${label}-`));
let image: ImageSummary;
const rawImage = () => image.artifacts.find((a) => a.file.endsWith('.raw'))!.file;
const stageEntry = (cache: string, name: string) => path.join(cache, 'stages', `${name}-${image.stages.find((s) => s.name === name)!.key}`);
const kernelEntry = (cache: string) => stageEntry(cache, 'kernel');

test('lbbuild image builds the default appliance as a sparse raw disk with a manifest', async (t) => {
  const started = Date.now();
  image = await buildImage(['--target', 'raw', '--out', await temp('out'), '--cache', TEST_CACHE]);
  const cached = image.stages.filter((s) => s.cached).map((s) => s.name);
  t.diagnostic(`build: ${Math.round((Date.now() - started) / 1000)} s (cached stages: ${cached.join(', ') || 'none'})`);
  const kernel = image.stages.find((s) => s.name === 'kernel')!;
  const built = JSON.parse(await readFile(path.join(kernelEntry(TEST_CACHE), 'kernel.json'), 'utf8'));
  t.diagnostic(
    `kernel ${built.release}: ${kernel.cached ? 'taken from the cache, where an earlier run built it' : 'built by this run'} in ${built.buildSeconds} s (key ${kernel.key})`,
  );
  const raw = await stat(rawImage());
  t.diagnostic(`raw image: ${raw.size} bytes virtual, ${raw.blocks * 512} bytes allocated`);
  assert.equal(raw.size, 2 * 1024 ** 3);
  assert.ok(raw.blocks * 512 < raw.size / 2, 'the raw disk is sparse');
  // Every writer copies only the disk stage's extents: the empty root slot B must hold none.
  const table = JSON.parse((await execa('sfdisk', ['--json', rawImage()])).stdout).partitiontable;
  const slotB = table.partitions.find((p: { name: string }) => p.name === 'root-b');
  const [start, end] = [slotB.start * 512, (slotB.start + slotB.size) * 512];
  const extents = JSON.parse(await readFile(path.join(stageEntry(TEST_CACHE, 'disk'), 'extents.json'), 'utf8')) as Array<[number, number]>;
  assert.deepEqual(extents.filter(([offset, length]) => offset < end && offset + length > start), [], 'no data in root slot B');
  assert.match(image.artifacts[0]!.sha256, /^[0-9a-f]{64}$/);
});

test('manifest.json records the Lynis hardening index of the booted appliance (at least 80) and its report', async (t) => {
  const manifest = JSON.parse(await readFile(image.manifest, 'utf8'));
  const lynis = manifest.hardening?.lynis;
  assert.ok(lynis, `manifest.hardening.lynis in ${JSON.stringify(Object.keys(manifest))}`);
  t.diagnostic(
    `Lynis ${lynis.version}: hardening index ${lynis.hardeningIndex} over ${lynis.testsPerformed} tests, ${lynis.warnings} warnings, ${lynis.suggestions} suggestions`,
  );
  assert.ok(lynis.hardeningIndex >= 80, `Lynis hardening index ${lynis.hardeningIndex} is below 80`);
  const report = await readFile(path.join(path.dirname(image.manifest), lynis.report), 'utf8');
  assert.match(report, /^hostname=lbmaster$/m, 'the report is of the booted appliance, not of the build host');
  assert.equal(parseLynisReport(report).hardeningIndex, lynis.hardeningIndex, 'the report beside the manifest gives the recorded index');
});

test('a warm rebuild reuses every stage and gives the same image', async (t) => {
  const started = Date.now();
  const warm = await buildImage(['--target', 'raw', '--out', await temp('out'), '--cache', TEST_CACHE]);
  t.diagnostic(`warm rebuild: ${Math.round((Date.now() - started) / 1000)} s`);
  assert.ok(warm.stages.every((s) => s.cached), JSON.stringify(warm.stages));
  assert.equal(warm.artifacts[0]!.sha256, image.artifacts[0]!.sha256);
});

test('a build in a fresh cache is bit-identical (same recipe, inputs and SOURCE_DATE_EPOCH)', async (t) => {
  const cache = await temp('cache');
  try {
    // The kernel (20 minutes to build, with a signing key made for that build) is taken
    // from the shared cache; every other stage is rebuilt.
    await cp(kernelEntry(TEST_CACHE), kernelEntry(cache), { recursive: true });
    t.diagnostic('kernel stage: copied from the shared test cache');
    const fresh = await buildImage(['--target', 'raw', '--no-audit', '--out', await temp('out'), '--cache', cache]);
    const rebuilt = fresh.stages.filter((s) => s.name !== 'kernel');
    assert.ok(rebuilt.every((s) => !s.cached), JSON.stringify(fresh.stages));
    t.diagnostic(`sha256 shared cache: ${image.artifacts[0]!.sha256}`);
    t.diagnostic(`sha256 fresh cache:  ${fresh.artifacts[0]!.sha256}`);
    assert.equal(fresh.artifacts[0]!.sha256, image.artifacts[0]!.sha256);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('a disk too small for the root filesystem is refused before anything is written', async () => {
  const recipe = await variantRecipe('small.yaml', 'disk:\n  size: 512MiB\n');
  const out = await temp('out');
  const result = await lbbuild(['image', '--recipe', recipe, '--out', out, '--cache', TEST_CACHE]);
  assert.equal(result.exitCode, 2, result.all);
  assert.match(result.stderr, /disk\.size: 512MiB is too small: the root filesystem needs about \d+ MiB .* set disk\.size to at least "\d+GiB"/);
  assert.deepEqual(await readdir(out), []);
});

test('Ctrl-C during the disk stage leaves no artifact and no cache entry; the next build succeeds', async () => {
  const recipe = await variantRecipe('bigger.yaml', 'disk:\n  size: 3GiB\n');
  const out = await temp('out');
  const cache = await cacheWithoutDisks();
  const child = lbbuild(['image', '--recipe', recipe, '--no-audit', '--out', out, '--cache', cache]);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    child.all!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (/writing the root-a partition/.test(seen)) resolve();
    });
    child.then(() => reject(new Error(`the build ended before the disk stage:\n${seen}`)), reject);
  });
  child.kill('SIGINT');
  const interrupted = await child;
  assert.equal(interrupted.exitCode, 130, interrupted.all);
  assert.deepEqual(await readdir(out), [], 'nothing in --out');
  const leftovers = (await entriesAfterRemoval(path.join(cache, 'tmp'))).filter((n) => n.includes(`.${child.pid}.`));
  assert.deepEqual(leftovers, [], 'no temporary folder of the killed build in the cache');
  const again = await buildImage(['--recipe', recipe, '--no-audit', '--out', out, '--cache', cache]);
  assert.deepEqual(again.stages.map((s) => [s.name, s.cached]), [
    ['rootfs', true],
    ['components', true],
    ['kernel', true],
    ['configure', true],
    ['disk', false],
  ]);
  await rm(out, { recursive: true, force: true });
  await rm(cache, { recursive: true, force: true });
});

/**
 * Runs `lbbuild image` on a recipe whose `failing` stage fails while the others work, and
 * checks that the build stops: the first error reported, the others stopped, nothing left.
 * Returns the seconds from the line `failsAfter` (the failing stage's last output) to the exit.
 */
async function stopsWithin(
  recipe: string,
  failsAfter: RegExp,
  expected: { failing: string; exitCode: number; error: RegExp; stopped: string[]; busyWith?: RegExp },
): Promise<number> {
  const out = await temp('out');
  const cache = await temp('cache');
  const child = lbbuild(['image', '--recipe', recipe, '--no-audit', '--out', out, '--cache', cache]);
  let seen = '';
  let failedAt = 0;
  child.all!.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    if (!failedAt && failsAfter.test(seen)) failedAt = Date.now();
  });
  const result = await child;
  const seconds = (Date.now() - (failedAt || Date.now())) / 1000;
  if (expected.busyWith) {
    const busy = expected.busyWith.exec(seen)?.index ?? Infinity;
    assert.ok(busy < (failsAfter.exec(seen)?.index ?? -1), `${expected.busyWith} was under way when the stage failed`);
  }
  assert.equal(result.exitCode, expected.exitCode, result.all);
  assert.match(result.stderr, expected.error);
  for (const stage of expected.stopped) assert.match(result.all, new RegExp(`${stage} \\[FAILED: stopped because`), `${stage} was stopped, not left to finish`);
  assert.deepEqual(await entriesAfterRemoval(path.join(cache, 'tmp')), [], 'no temporary folder in the cache');
  const entries = await readdir(path.join(cache, 'stages')).catch(() => [] as string[]);
  for (const stage of [expected.failing, ...expected.stopped]) assert.ok(!entries.some((e) => e.startsWith(`${stage}-`)), `no ${stage} entry in ${entries}`);
  assert.deepEqual(await readdir(out), [], 'nothing in --out');
  const stillRunning = await execa('pgrep', ['-f', cache], { reject: false });
  assert.equal(stillRunning.stdout, '', 'no tool of the failed build still runs');
  await rm(cache, { recursive: true, force: true });
  return seconds;
}

test('a stage that fails while the others install stops them within seconds, leaving no entry, folder or tool', async (t) => {
  // CONFIG_IP_VS_RR needs CONFIG_IP_VS, which this fragment turns off: the kernel stage fails
  // after unpacking and configuring, while rootfs and components install their roots.
  const recipe = await variantRecipe('broken-kernel.yaml', 'kernel:\n  source: build\n  build:\n    fragments: [recipes/kernel/broken.config]\n');
  await writeFile(path.join(path.dirname(recipe), 'kernel/broken.config'), '# CONFIG_IP_VS is not set\nCONFIG_IP_VS_RR=m\n');
  const seconds = await stopsWithin(recipe, /configuration written to \.config/, {
    failing: 'kernel',
    exitCode: 2,
    error: /recipes\/kernel\/broken\.config:2: CONFIG_IP_VS_RR=m, but the kernel's config has CONFIG_IP_VS_RR=n/,
    stopped: ['rootfs', 'components'],
  });
  t.diagnostic(`from the kernel's failure to the exit: ${seconds} s`);
  // A bound on hanging (a stop used to take minutes), not on speed.
  assert.ok(seconds < 60, `the build took ${seconds} s to stop`);
});

test('a component that fails while the kernel compiles stops the compile', async (t) => {
  // Its own small recipe, so the one component is the failing one: it fails once its build
  // root is made, a minute in, when the kernel has been unpacked and is compiling.
  const recipe = path.join(await scratchProject(), 'recipes/broken-component.yaml');
  await writeFile(
    recipe,
    [
      'extends: base-debian.yaml',
      'name: broken',
      'version: "1"',
      'hostname: broken',
      'overlays: []',
      'users: []',
      'wui: { user: loadbalancer, password: loadbalancer }',
      'network: { address: 192.168.2.21/24, nics: 1 }',
      'services: { enable: [], disable: [] }',
      'vm: { cpus: 1, memoryMiB: 512 }',
      'kernel:',
      '  source: build',
      '  build: { source: /usr/src/linux-source-6.1.tar.xz, fragments: [recipes/kernel/base.config, recipes/kernel/net.config, recipes/kernel/drivers.config, recipes/kernel/hardening.config] }',
      'components:',
      '  - name: broken',
      '    version: "1"',
      '    source: { path: recipes/sources/pound-4.23.tar.gz, sha256: d4ed80f698c5e445398122d63da8e1a47c87468ca793ce951569f4529904aaa9 }',
      '    buildDepends: []',
      '    depends: []',
      '    build: [[sh, -c, "echo the broken component fails now; exit 3"]]',
      '',
    ].join('\n'),
  );
  const seconds = await stopsWithin(recipe, /the broken component fails now/, {
    failing: 'components',
    exitCode: 1,
    error: /component broken: sh -c echo the broken component fails now; exit 3 failed/,
    stopped: ['kernel'],
    busyWith: /kernel: compiling the kernel and its modules/,
  });
  t.diagnostic(`from the component's failure to the exit: ${seconds} s`);
  assert.ok(seconds < 60, `the build took ${seconds} s to stop`);
});

/** A recipe extending appliance.yaml with `overrides`, in a scratch copy of the project. */
async function variantRecipe(name: string, overrides: string): Promise<string> {
  const recipe = path.join(await scratchProject(), 'recipes', name);
  await writeFile(recipe, `extends: appliance.yaml\n${overrides}`);
  return recipe;
}

/**
 * A cache that links to the shared cache's entries, all but the disks: the shared cache
 * outlives a run (CI keeps it), and a disk an earlier run left there would let the
 * build finish before it could be interrupted.
 */
async function cacheWithoutDisks(): Promise<string> {
  const cache = await temp('cache');
  await mkdir(path.join(cache, 'stages'));
  for (const name of await readdir(path.join(TEST_CACHE, 'stages'))) {
    if (!name.startsWith('disk-')) await symlink(path.join(TEST_CACHE, 'stages', name), path.join(cache, 'stages', name));
  }
  return cache;
}

describe('the appliance booted with SeaBIOS on virtio', () => {
  const session = {} as Session;
  before(async () => {
    // The guest reboots once, for the slot fallback check.
    session.vm = await bootVm({ image: rawImage(), forwardPorts: [WUI_HTTP, WUI_HTTPS, PROBE_PORT], allowReboot: true });
    session.facts = {};
  });
  after(async () => {
    await session.vm?.stop();
  });
  let failed = false;
  for (const check of [...bootChecks, ...slotChecks, slotFallbackCheck, ...hardeningChecks, ...applianceChecks, ...builtKernelChecks]) {
    test(check.name, async (t) => {
      if (failed) return t.skip('an earlier check of this session failed');
      try {
        await check.run(session);
        if (check === bootChecks[0]) t.diagnostic(`boot to login prompt under ${kvmUsable() ? 'KVM' : 'TCG'}: ${session.facts.bootSeconds} s`);
      } catch (error) {
        failed = true;
        t.diagnostic(`console transcript (last 80 lines):\n${session.vm.console.transcript.split('\n').slice(-80).join('\n')}`);
        throw error;
      }
    });
  }

  test('the same image booted with OVMF (UEFI) passes "lbbuild test" and makes its own host keys', async (t) => {
    const result = await lbbuild(['test', '--image', rawImage(), '--firmware', 'uefi']);
    t.diagnostic(result.stdout);
    assert.equal(result.exitCode, 0, result.all);
    const hostKey = /info {2}ssh host key: (.*)/.exec(result.stdout)?.[1];
    const machineId = /info {2}machine-id: (.*)/.exec(result.stdout)?.[1];
    assert.ok(hostKey && session.facts.hostKey, 'both boots reported their host key');
    assert.notEqual(hostKey, session.facts.hostKey, 'two boots of one image have different SSH host keys');
    assert.notEqual(machineId, session.facts.machineId, 'and different machine-ids');
  });
});
