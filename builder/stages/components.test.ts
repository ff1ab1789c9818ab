import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRecipe } from '../recipe/load.js';
import { debianBackend, aptSources } from '../backends/debian.js';
import { StageCache } from '../cache.js';
import { TEST_CACHE } from '../../test-vms/build-helpers.js';
import { run } from '../exec.js';
import { UserError } from '../errors.js';
import { installComponents, planComponents } from './components.js';
import { entriesAfterRemoval } from '../test-support.js';
import type { BuildContext } from './stage.js';
import type { Recipe } from '../recipe/schema.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const POUND_SHA256 = 'd4ed80f698c5e445398122d63da8e1a47c87468ca793ce951569f4529904aaa9';
const WRONG = '0'.repeat(64);

const componentsStage = async (ctx: BuildContext) => (await planComponents(ctx))!.run(ctx);
const componentsKey = async (ctx: BuildContext) => (await planComponents(ctx))!.key;

async function context(source?: NonNullable<Recipe['components']>[number]['source'], sharedCache?: string) {
  const loaded = await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'));
  const pound = loaded.recipe.components?.find((c) => c.name === 'pound');
  assert.ok(pound, 'the appliance recipe has a pound component');
  if (source) loaded.recipe.components = [{ ...pound, source }];
  const lines: string[] = [];
  const cacheDir = sharedCache ?? (await mkdtemp(path.join(tmpdir(), 'lbbuild-components-')));
  const ctx: BuildContext = {
    loaded,
    backend: debianBackend,
    cache: new StageCache(cacheDir),
    epoch: 1764028800,
    signal: new AbortController().signal,
    log: (line) => lines.push(line),
  };
  return { ctx, lines, cacheDir };
}

async function assertRefusedUnbuilt(source: NonNullable<Recipe['components']>[number]['source'], parts: string[]) {
  const { ctx, lines, cacheDir } = await context(source);
  await assert.rejects(componentsStage(ctx), (error: Error) => {
    assert.ok(error instanceof UserError, `a UserError, got ${error.name}`);
    for (const part of ['component pound', 'components[0].source', ...parts]) assert.ok(error.message.includes(part), `"${error.message}" names ${part}`);
    return true;
  });
  assert.deepEqual(lines.filter((line) => !/^pound: downloading /.test(line)), [], 'no build tool ran');
  assert.deepEqual(await entriesAfterRemoval(path.join(cacheDir, 'tmp')), [], 'no work folder is left');
  await rm(cacheDir, { recursive: true });
}

test('a source outside the project is refused before anything runs, naming the field', async () => {
  await assertRefusedUnbuilt({ path: '../elsewhere/pound-4.23.tar.gz', sha256: POUND_SHA256 }, ['source.path', 'outside the project root']);
});

test('a wrong sha256 is refused before anything is built, naming the component and both digests', async () => {
  const actual = createHash('sha256').update(await readFile(path.join(REPO, 'package.json'))).digest('hex');
  await assertRefusedUnbuilt({ path: 'package.json', sha256: WRONG }, ['package.json', WRONG, actual]);
});

test('a downloaded source is checked the same way; the key is the digest, not the location', async () => {
  const body = Buffer.from('a tarball that is not the pinned one\n');
  const server = createServer((_, response) => response.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/pound-4.23.tar.gz`;
  try {
    await assertRefusedUnbuilt({ url, sha256: WRONG }, [url, WRONG, createHash('sha256').update(body).digest('hex')]);
  } finally {
    server.close();
  }
  const byPath = await context();
  const byUrl = await context({ url, sha256: POUND_SHA256 });
  assert.equal(await componentsKey(byUrl.ctx), await componentsKey(byPath.ctx));
  for (const { cacheDir } of [byPath, byUrl]) await rm(cacheDir, { recursive: true });
});

// The shared test cache: the appliance build in test-vms/ then reuses this package.
test('Pound builds into a package that installs, runs and accepts its default configuration', async () => {
  const { ctx } = await context(undefined, TEST_CACHE);
  const freshRoot = await mkdtemp(path.join(tmpdir(), 'lbbuild-components-root-'));
  try {
    const first = await componentsStage(ctx);
    assert.deepEqual(first.output.debs.map((deb) => path.basename(deb)), ['pound_4.23_amd64.deb']);
    const deb = first.output.debs[0]!;

    const info = await run('dpkg-deb', ['-I', deb]);
    for (const field of [/^ Package: pound$/m, /^ Version: 4\.23$/m, /^ Architecture: amd64$/m, /^ Depends: libssl3, libpcre2-8-0$/m]) {
      assert.match(info, field);
    }
    const files = await run('dpkg-deb', ['-c', deb]);
    for (const file of ['./usr/sbin/pound', './usr/lib/systemd/system/pound.service', './etc/pound.cfg']) {
      assert.match(files, new RegExp(`^-\\S+ root/root .* ${file.replaceAll('.', '\\.')}$`, 'm'), `${file} in the package, owned by root`);
    }

    const again = await componentsStage(ctx);
    assert.deepEqual([again.cached, again.key, again.dir], [true, first.key, first.dir]);

    const { base } = ctx.loaded.recipe;
    await rm(freshRoot, { recursive: true });
    await run('mmdebstrap', ['--variant=minbase', '--include=libssl3', base.release, freshRoot, ...aptSources(base)], { input: '' });
    await installComponents(freshRoot, first.output, ctx);
    assert.match(await run('chroot', [freshRoot, 'pound', '-V']), /pound.*4\.23/i);
    await run('chroot', [freshRoot, 'pound', '-c', '-f', '/etc/pound.cfg']);
    assert.match(await run('chroot', [freshRoot, 'dpkg-query', '-W', '-f=${Status} ${Conffiles}', 'pound']), /install ok installed\s+\/etc\/pound\.cfg [0-9a-f]{32}/);
    assert.deepEqual(await readdir(path.join(freshRoot, 'tmp')), [], 'the packages are removed from the image after installing');
  } finally {
    await rm(freshRoot, { recursive: true, force: true });
  }
});
