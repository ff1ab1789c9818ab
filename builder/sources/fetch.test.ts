import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BuildError, UserError } from '../errors.js';
import { checkSource, fetchSource } from './fetch.js';
import type { Recipe } from '../recipe/schema.js';

type Component = NonNullable<Recipe['components']>[number];

const TARBALL = Buffer.from('not really a tarball, but bytes with a known sha256\n');
const SHA = createHash('sha256').update(TARBALL).digest('hex');
const WRONG = '0'.repeat(64);

const component = (source: Component['source']): Component => ({
  name: 'pound',
  version: '4.16',
  source,
  buildDepends: [],
  depends: [],
  build: [['true']],
});

async function scratch() {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-sources-'));
  const projectRoot = path.join(dir, 'project');
  await mkdir(projectRoot);
  return { dir, projectRoot, downloads: path.join(dir, 'cache', 'downloads') };
}

/** A local server for TARBALL that counts the requests it answered. */
async function serve(body = TARBALL): Promise<{ url: string; requests: () => number; server: Server }> {
  let count = 0;
  const server = createServer((_, response) => {
    count++;
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/pound.tar.gz`, requests: () => count, server };
}

function assertUserError(fragments: string[]) {
  return (error: Error) => {
    assert.ok(error instanceof UserError, `a UserError, got ${error.name}: ${error.message}`);
    for (const part of fragments) assert.ok(error.message.includes(part), `"${error.message}" names ${part}`);
    return true;
  };
}

test('a url source is downloaded once: the second fetch is a cache hit and makes no request', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  const { url, requests, server } = await serve();
  try {
    const lines: string[] = [];
    const options = { index: 0, projectRoot, downloads, log: (line: string) => lines.push(line) };
    const first = await fetchSource(component({ url, sha256: SHA }), options);
    assert.equal(first, path.join(downloads, SHA));
    assert.deepEqual(await readFile(first), TARBALL);
    assert.equal(requests(), 1);
    assert.deepEqual(await checkSource(component({ url, sha256: SHA }), options), { component: 'pound', status: 'present', file: first });

    const again = await fetchSource(component({ url, sha256: SHA }), options);
    assert.equal(again, first);
    assert.equal(requests(), 1, 'nothing fetched the second time');
    assert.match(lines.at(-1)!, /from the download cache/);
    assert.deepEqual(await readdir(downloads), [SHA], 'only the verified file is kept');
  } finally {
    server.close();
    await rm(dir, { recursive: true });
  }
});

test('a damaged cache entry is not used: it is fetched again', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  const { url, requests, server } = await serve();
  try {
    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(downloads, SHA), 'truncated');
    const options = { index: 0, projectRoot, downloads };
    assert.deepEqual(await checkSource(component({ url, sha256: SHA }), options), { component: 'pound', status: 'fetch', from: url });
    assert.deepEqual(await readFile(await fetchSource(component({ url, sha256: SHA }), options)), TARBALL);
    assert.equal(requests(), 1);
  } finally {
    server.close();
    await rm(dir, { recursive: true });
  }
});

test('a download with another sha256 is refused, naming the component, the field and both digests, and not kept', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  const { url, server } = await serve();
  try {
    await assert.rejects(
      fetchSource(component({ url, sha256: WRONG }), { index: 2, projectRoot, downloads }),
      assertUserError(['component pound', 'components[2].source', url, SHA, WRONG]),
    );
    assert.deepEqual(await readdir(downloads), [], 'no file, not even a temporary one, is left');
  } finally {
    server.close();
    await rm(dir, { recursive: true });
  }
});

test('an unreachable url is a BuildError naming the component and the url', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  const { url, server } = await serve();
  server.close();
  try {
    await assert.rejects(fetchSource(component({ url, sha256: SHA }), { index: 0, projectRoot, downloads }), (error: Error) => {
      assert.ok(error instanceof BuildError, `a BuildError, got ${error.name}`);
      assert.match(error.message, /component pound: components\[0\]\.source\.url: cannot download http:\/\/127\.0\.0\.1/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a path source inside the project is checked and handed on as a verified copy', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  try {
    await mkdir(path.join(projectRoot, 'sources'));
    await writeFile(path.join(projectRoot, 'sources/pound.tar.gz'), TARBALL);
    const options = { index: 0, projectRoot, downloads };
    const source = { path: 'sources/pound.tar.gz', sha256: SHA };
    assert.deepEqual(await checkSource(component(source), options), {
      component: 'pound',
      status: 'present',
      file: path.join(projectRoot, 'sources/pound.tar.gz'),
    });
    assert.deepEqual(await readFile(await fetchSource(component(source), options)), TARBALL);

    const wrong = { path: 'sources/pound.tar.gz', sha256: WRONG };
    for (const call of [checkSource(component(wrong), options), fetchSource(component(wrong), options)]) {
      await assert.rejects(call, assertUserError(['components[0].source', 'sources/pound.tar.gz', SHA, WRONG]));
    }
    await assert.rejects(
      checkSource(component({ path: 'sources/missing.tar.gz', sha256: SHA }), options),
      assertUserError(['components[0].source.path', 'sources/missing.tar.gz', 'not a file']),
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a path source outside the project is refused, also through a symlink, before anything is read', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  try {
    await writeFile(path.join(dir, 'outside.tar.gz'), TARBALL);
    await symlink(path.join(dir, 'outside.tar.gz'), path.join(projectRoot, 'inside.tar.gz'));
    const options = { index: 1, projectRoot, downloads };
    for (const relative of ['../outside.tar.gz', path.join(dir, 'outside.tar.gz'), 'inside.tar.gz']) {
      for (const call of [checkSource, fetchSource]) {
        await assert.rejects(
          call(component({ path: relative, sha256: SHA }), options),
          assertUserError(['component pound: components[1].source.path', relative, 'outside the project root']),
        );
      }
    }
    await assert.rejects(readdir(downloads), { code: 'ENOENT' }, 'nothing was written to the cache');
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('an uncached Debian source needs a host apt stanza that serves the suite or the host release', async () => {
  const { dir, projectRoot, downloads } = await scratch();
  try {
    const etcApt = path.join(dir, 'etc-apt');
    const osRelease = path.join(dir, 'os-release');
    await mkdir(path.join(etcApt, 'sources.list.d'), { recursive: true });
    await writeFile(osRelease, 'ID=debian\nVERSION_CODENAME=bookworm\n');
    await writeFile(
      path.join(etcApt, 'sources.list.d', 'debian.sources'),
      'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    );
    const source = { debian: { package: 'pound', suite: 'trixie', file: 'pound_4.16.orig.tar.gz' }, sha256: SHA };
    const options = { index: 0, projectRoot, downloads, etcApt, osRelease };
    await assert.rejects(
      checkSource(component(source), options),
      assertUserError(['component pound: components[0].source.debian', '"trixie"', '"bookworm"', 'sources.list.d/debian.sources', 'source.url']),
    );

    await writeFile(path.join(etcApt, 'sources.list'), 'deb http://mirror.example/debian bookworm main\n');
    assert.deepEqual(await checkSource(component(source), options), {
      component: 'pound',
      status: 'fetch',
      from: "pound_4.16.orig.tar.gz of Debian's source package pound (trixie) from http://mirror.example/debian",
    });

    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(downloads, SHA), TARBALL);
    const present = { component: 'pound', status: 'present', file: path.join(downloads, SHA) };
    assert.deepEqual(await checkSource(component(source), options), present);
    await rm(path.join(etcApt, 'sources.list'));
    assert.deepEqual(await checkSource(component(source), options), present, 'a cached file needs no apt source');
    assert.equal(await fetchSource(component(source), options), path.join(downloads, SHA), 'and is not fetched');
  } finally {
    await rm(dir, { recursive: true });
  }
});
