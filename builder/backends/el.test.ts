/**
 * The el backend against a local RPM repository made here: rpmbuild packages, a throwaway
 * OpenPGP key signs them, createrepo_c indexes them, dnf installs them through lbbuild.
 * Real tools throughout; a missing one fails the tests. No network but 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { run } from '../exec.js';
import { UserError } from '../errors.js';
import { loadRecipe } from '../recipe/load.js';
import { RecipeSchema, type Recipe } from '../recipe/schema.js';
import { findOnPath, requireTools } from '../tools.js';
import { elBackend } from './el.js';

const EPOCH = 1_700_000_000;
const KEY_USER = 'lbbuild test <test@lbbuild.invalid>';
const PROJECT = path.resolve(import.meta.dirname, '../..');

/** Three small packages: a filesystem-like base, a file with a dependency (and an epoch), a scriptlet (Lua: the root has no shell). */
const SPECS: Record<string, string> = {
  'lbtest-filesystem-1.0-1': `
Name: lbtest-filesystem
Version: 1.0
Release: 1
Summary: top folders
License: MIT
BuildArch: noarch
%description
The folders of the test root.
%install
mkdir -p %{buildroot}/etc %{buildroot}/usr/share %{buildroot}/var/lib
echo 'lbtest 1.0' > %{buildroot}/etc/lbtest-release
%files
%dir /etc
%dir /usr
%dir /usr/share
%dir /var
%dir /var/lib
/etc/lbtest-release
`,
  'lbtest-hello-2.1-3': `
Name: lbtest-hello
Epoch: 1
Version: 2.1
Release: 3
Summary: a file and a dependency
License: MIT
BuildArch: noarch
Requires: lbtest-filesystem
%description
Ships one file.
%install
mkdir -p %{buildroot}/usr/share/lbtest
echo hello > %{buildroot}/usr/share/lbtest/hello.txt
%files
/usr/share/lbtest
`,
  'lbtest-post-1.0-1': `
Name: lbtest-post
Version: 1.0
Release: 1
Summary: a scriptlet
License: MIT
BuildArch: noarch
Requires: lbtest-filesystem
%description
Writes a file when installed.
%install
mkdir -p %{buildroot}/var/lib/lbtest
%files
%dir /var/lib/lbtest
%post -p <lua>
local f = io.open("/var/lib/lbtest/post-ran", "w")
f:write("post ran\\n")
f:close()
`,
};

let work = '';
let gnupgHome = '';
let keyFile = '';
const repos = { signed: '', unsigned: '', tampered: '' };
const quiet = () => undefined;

before(async () => {
  requireTools([...elBackend.tools, 'rpmbuild', 'rpmsign', 'createrepo_c', 'gpg', 'gpgconf']);
  work = await mkdtemp(path.join(os.tmpdir(), 'lbbuild-el-test-'));
  gnupgHome = path.join(work, 'gnupg');
  await mkdir(gnupgHome, { mode: 0o700 });
  const gpgEnv = { env: { GNUPGHOME: gnupgHome } };
  await run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', KEY_USER, 'rsa2048', 'sign', 'never'], gpgEnv);
  keyFile = path.join(work, 'RPM-GPG-KEY-lbtest');
  await writeFile(keyFile, `${await run('gpg', ['--armor', '--export', KEY_USER], gpgEnv)}\n`);

  const top = path.join(work, 'rpmbuild');
  const built: Record<string, string> = {};
  for (const [nvr, spec] of Object.entries(SPECS)) {
    const specFile = path.join(work, `${nvr}.spec`);
    await writeFile(specFile, spec);
    await run('rpmbuild', ['-bb', '--define', `_topdir ${top}`, specFile]);
    built[nvr] = path.join(top, 'RPMS/noarch', `${nvr}.noarch.rpm`);
  }
  const unsignedHello = path.join(work, 'unsigned-hello.rpm');
  await copyFile(built['lbtest-hello-2.1-3']!, unsignedHello);
  const sign = [
    '--define', `_gpg_name ${KEY_USER}`,
    '--define', `_gpg_path ${gnupgHome}`,
    // Debian's rpm names gpg2, which Debian does not ship under that name.
    '--define', `__gpg ${findOnPath('gpg')}`,
  ];
  await run('rpmsign', [...sign, '--addsign', ...Object.values(built)], { ...gpgEnv, input: '' });

  const repo = async (name: keyof typeof repos, files: Record<string, string>) => {
    repos[name] = path.join(work, `repo-${name}`);
    await mkdir(repos[name]);
    for (const [file, from] of Object.entries(files)) await copyFile(from, path.join(repos[name], file));
  };
  const filesystem = { 'lbtest-filesystem-1.0-1.noarch.rpm': built['lbtest-filesystem-1.0-1']! };
  await repo('signed', Object.fromEntries(Object.entries(built).map(([nvr, file]) => [`${nvr}.noarch.rpm`, file])));
  await repo('unsigned', { ...filesystem, 'lbtest-hello-2.1-3.noarch.rpm': unsignedHello });
  await repo('tampered', { ...filesystem, 'lbtest-hello-2.1-3.noarch.rpm': built['lbtest-hello-2.1-3']! });
  // One byte of the compressed payload changed after signing, before indexing: only the signature can tell.
  const tampered = path.join(repos.tampered, 'lbtest-hello-2.1-3.noarch.rpm');
  const bytes = await readFile(tampered);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  await writeFile(tampered, bytes);
  for (const dir of Object.values(repos)) await run('createrepo_c', ['--quiet', dir]);
});

after(async () => {
  if (gnupgHome) await run('gpgconf', ['--kill', 'gpg-agent'], { env: { GNUPGHOME: gnupgHome } });
  if (work) await rm(work, { recursive: true, force: true });
});

function localBase(repoDir: string, packages: string[]): Recipe['base'] {
  return {
    backend: 'el',
    release: '9',
    packages,
    repositories: { local: { baseurl: pathToFileURL(repoDir).href, gpgkey: keyFile } },
  };
}

const build = (base: Recipe['base'], tarball: string) => elBackend.buildRootfs({ base, epoch: EPOCH, tarball, onLine: quiet, signal: new AbortController().signal });

test('installs signed packages from a local repository into a bit-identical tarball', async () => {
  const base = localBase(repos.signed, ['lbtest-hello', 'lbtest-post']);
  const first = path.join(work, 'first.tar');
  const second = path.join(work, 'second.tar');
  await build(base, first);
  await build(base, second);
  assert.ok((await readFile(first)).equals(await readFile(second)), 'two runs give different tarballs');

  const root = path.join(work, 'extracted');
  await mkdir(root);
  await run('tar', ['-C', root, '-xpf', first, '--numeric-owner']);
  // Checked before rpm below opens the database (and makes its own lock and log files).
  for (const volatile of ['var/cache/dnf', 'var/lib/dnf', 'var/log/dnf.log', 'var/log/hawkey.log', 'var/lib/rpm/.rpm.lock', 'var/lib/rpm/rpmdb.sqlite-wal']) {
    assert.equal(existsSync(path.join(root, volatile)), false, `${volatile} is in the tarball`);
  }
  for (const entry of await readdir(root, { recursive: true })) {
    const info = await lstat(path.join(root, entry));
    assert.ok(info.mtimeMs / 1000 <= EPOCH, `${entry} is newer than SOURCE_DATE_EPOCH`);
    assert.equal(info.uid, 0, `${entry} is not owned by root`);
  }
  assert.equal(await readFile(path.join(root, 'etc/lbtest-release'), 'utf8'), 'lbtest 1.0\n');
  assert.equal(await readFile(path.join(root, 'usr/share/lbtest/hello.txt'), 'utf8'), 'hello\n');
  assert.equal(await readFile(path.join(root, 'var/lib/lbtest/post-ran'), 'utf8'), 'post ran\n');

  assert.deepEqual(await elBackend.installedPackages(root), [
    { name: 'lbtest-filesystem', version: '1.0-1' },
    { name: 'lbtest-hello', version: '1:2.1-3' },
    { name: 'lbtest-post', version: '1.0-1' },
  ]);
  assert.deepEqual(await readdir(path.join(root, 'var/lib/rpm')), ['rpmdb.sqlite'], 'reading the package list changed the image');
  // rpm itself finds the database where EL looks for it and every file as the database says (times are clamped).
  await run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--verify', '--all', '--nomtime']);
  assert.match(await run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-q', 'gpg-pubkey', '--qf', '%{SUMMARY}']), /lbbuild test/);
});

test('rejects an unsigned package', async () => {
  const tarball = path.join(work, 'unsigned.tar');
  await assert.rejects(build(localBase(repos.unsigned, ['lbtest-hello']), tarball), (error: Error) => {
    assert.match(error.message, /package signature check failed/);
    assert.match(error.message, /lbtest-hello-2\.1-3\.noarch\.rpm is not signed/);
    return true;
  });
  assert.equal(existsSync(tarball), false);
});

test('rejects a package changed after it was signed', async () => {
  const tarball = path.join(work, 'tampered.tar');
  await assert.rejects(build(localBase(repos.tampered, ['lbtest-hello']), tarball), (error: Error) => {
    assert.match(error.message, /package signature check failed/);
    assert.match(error.message, /lbtest-hello-2\.1-3\.noarch\.rpm/);
    return true;
  });
  assert.equal(existsSync(tarball), false);
});

/** Asserts the build fails with a UserError within 30 s and returns its message. */
async function failsFast(base: Recipe['base']): Promise<string> {
  const started = Date.now();
  const error = await build(base, path.join(work, 'unreachable.tar')).then(
    () => assert.fail('the build succeeded'),
    (e: unknown) => e,
  );
  const seconds = (Date.now() - started) / 1000;
  assert.ok(error instanceof UserError, `expected a UserError, got ${error}`);
  assert.ok(seconds < 30, `took ${seconds} s`);
  return error.message;
}

test('a closed port fails fast, naming the repository and the option to change', async () => {
  const base = localBase(repos.signed, ['lbtest-hello']);
  base.repositories!.local!.baseurl = 'http://127.0.0.1:9/el/9/BaseOS/x86_64/os/';
  const message = await failsFast(base);
  assert.match(message, /repository "local" at http:\/\/127\.0\.0\.1:9\/el\/9\/BaseOS\/x86_64\/os\//);
  assert.match(message, /point base\.repositories\.local\.baseurl in the recipe at a mirror/);
});

test('a server that accepts but never answers fails within 30 s, not a hang', async () => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    const base = localBase(repos.signed, ['lbtest-hello']);
    base.repositories!.local!.baseurl = `http://127.0.0.1:${port}/os/`;
    const message = await failsFast(base);
    assert.match(message, new RegExp(`repository "local" at http://127\\.0\\.0\\.1:${port}/os/`));
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('recipes/appliance-el9.yaml: AlmaLinux 9 with signatures checked; an unreachable mirror names base.mirror', async () => {
  const { recipe } = await loadRecipe(path.join(PROJECT, 'recipes/appliance-el9.yaml'));
  assert.equal(recipe.base.backend, 'el');
  assert.equal(recipe.base.release, '9');
  const repositories = recipe.base.repositories ?? {};
  assert.deepEqual(Object.keys(repositories).sort(), ['appstream', 'baseos', 'epel']);
  for (const [id, repo] of Object.entries(repositories)) {
    assert.notEqual(repo.gpgcheck, false, `${id} does not check signatures`);
    assert.match(repo.gpgkey ?? '', /^https:\/\//, `${id} has no key fetched over https`);
  }
  // The release recipe's own layout, pointed at a closed local port instead of the public mirror.
  const base: Recipe['base'] = {
    ...recipe.base,
    packages: ['lbtest-hello'],
    mirror: 'http://127.0.0.1:9/almalinux',
    repositories: {
      baseos: { ...repositories.baseos!, gpgkey: keyFile },
      appstream: { ...repositories.appstream!, gpgkey: keyFile },
    },
  };
  const message = await failsFast(base);
  assert.match(message, /at http:\/\/127\.0\.0\.1:9\/almalinux\/\$releasever\/(BaseOS|AppStream)\/\$basearch\/os\//);
  assert.match(message, /point base\.mirror in the recipe at a mirror/);
});

test('recipe mistakes are named by the backend before anything runs', async () => {
  const problems = (base: Recipe['base']) => elBackend.baseProblems(base).map((p) => `${p.keyPath.join('.')}: ${p.problem}`);
  const noKey = localBase(repos.signed, ['lbtest-hello']);
  delete noKey.repositories!.local!.gpgkey;
  assert.deepEqual(problems(noKey), ['base.repositories.local: gpgcheck is on but gpgkey is not set; give the URL or path of the key its packages are signed with']);
  const relative = localBase(repos.signed, ['lbtest-hello']);
  relative.repositories!.local!.baseurl = '9/BaseOS/x86_64/os/';
  assert.match(problems(relative).join('\n'), /^base\.repositories\.local\.baseurl: "9\/BaseOS\/x86_64\/os\/" is a path under base\.mirror, which is not set/);
  assert.match(problems({ ...noKey, repositories: {} }).join('\n'), /^base: the el backend needs its RPM repositories/);
  const missingKey = localBase(repos.signed, ['lbtest-hello']);
  missingKey.repositories!.local!.gpgkey = '/nonexistent/RPM-GPG-KEY';
  assert.deepEqual(problems(missingKey), ['base.repositories.local.gpgkey: /nonexistent/RPM-GPG-KEY does not exist on this host; give the path of the repository\'s signing key']);
  assert.deepEqual(problems(localBase(repos.signed, ['lbtest-hello'])), []);

  const validate = new Ajv({ strict: true, allErrors: true, discriminator: true }).compile(RecipeSchema);
  const { recipe } = await loadRecipe(path.join(PROJECT, 'recipes/appliance-el9.yaml'));
  const typo = structuredClone(recipe) as unknown as { base: { repositories: Record<string, Record<string, unknown>> } };
  typo.base.repositories.baseos!.gpg_key = typo.base.repositories.baseos!.gpgkey;
  assert.equal(validate(typo), false);
  assert.ok(validate.errors?.some((e) => e.keyword === 'additionalProperties' && e.params.additionalProperty === 'gpg_key'));
});
