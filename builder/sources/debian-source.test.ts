import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { aptGetArgs, downloadArgs, parsePrintUris } from './debian-source.js';
import { debSrcStanza, privateAptOptions, sandboxedDownloadDir, writePrivateApt } from './private-apt.js';
import { parseDeb822, type SourceStanza } from './apt-sources.js';

const HOST: SourceStanza = {
  types: ['deb'],
  uris: ['http://mirror.example/debian', 'http://mirror2.example/debian'],
  suites: ['bookworm', 'bookworm-updates'],
  components: ['main', 'contrib'],
  signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg',
};
const SPEC = { package: 'pound', suite: 'trixie', file: 'pound_4.16.orig.tar.gz' };
const SHA = 'e2b322b949cb53b2e8f80113b666be53d16301f8a2a2189612e8280392d720c1';

test('apt is pointed at the private folder only: its source list, parts, package lists and cache', () => {
  const options = ['-o', 'Dir::Etc::sourcelist=/p/sources.list', '-o', 'Dir::Etc::sourceparts=/p/sources.list.d', '-o', 'Dir::State::Lists=/p/lists', '-o', 'Dir::Cache=/p/cache'];
  assert.deepEqual(privateAptOptions('/p'), options);
  assert.deepEqual(aptGetArgs('/p', SPEC), {
    update: [...options, 'update'],
    printUris: [...options, '--print-uris', 'source', '--only-source', 'pound/trixie'],
  });
  const file = { uri: 'http://mirror.example/debian/pool/main/p/pound/pound_4.16.orig.tar.gz', name: SPEC.file, size: 361516, sha256: SHA };
  assert.deepEqual(downloadArgs('/p', file, '/p/lists/partial/pound_4.16.orig.tar.gz', SHA), [
    ...options,
    'download-file',
    file.uri,
    '/p/lists/partial/pound_4.16.orig.tar.gz',
    `SHA256:${SHA}`,
  ]);
});

test('the private deb-src stanza takes the host stanza\'s archive and keyring, for the wanted suite', () => {
  const text = debSrcStanza(HOST, 'trixie');
  assert.equal(
    text,
    'Types: deb-src\nURIs: http://mirror.example/debian http://mirror2.example/debian\nSuites: trixie\nComponents: main contrib\n' +
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
  );
  const embedded = { ...HOST, components: [], signedBy: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGZ0ZXN0\n -----END PGP PUBLIC KEY BLOCK-----' };
  const [parsed] = parseDeb822(debSrcStanza(embedded, 'trixie'));
  assert.deepEqual(parsed, { types: ['deb-src'], uris: embedded.uris, suites: ['trixie'], components: ['main'], signedBy: embedded.signedBy });
});

test('the private folder is laid out for apt and readable by its sandbox user', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-private-apt-'));
  try {
    await writePrivateApt(dir, HOST, 'trixie');
    assert.equal((await stat(dir)).mode & 0o777, 0o755);
    assert.equal(await readFile(path.join(dir, 'sources.list'), 'utf8'), '');
    assert.deepEqual(await readdir(path.join(dir, 'sources.list.d')), ['lbbuild-source.sources']);
    assert.equal(await readFile(path.join(dir, 'sources.list.d', 'lbbuild-source.sources'), 'utf8'), debSrcStanza(HOST, 'trixie'));
    assert.ok((await stat(sandboxedDownloadDir(dir))).isDirectory());
    assert.ok((await stat(path.join(dir, 'cache', 'archives', 'partial'))).isDirectory());
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('apt-get --print-uris source: the files with their sha256; other output is skipped', () => {
  const output = [
    "NOTICE: 'pound' packaging is maintained in the 'Git' version control system at:",
    'https://salsa.debian.org/debian/pound.git',
    'Need to get 376 kB of source archives.',
    "'http://mirror.example/debian/pool/main/p/pound/pound_4.16-3.dsc' pound_4.16-3.dsc 2151 SHA256:ce3b8e3bccd4d122fe6aacee5cef5534f3d88d1eb6ba3812e762f43b7a58e0fa",
    `'http://mirror.example/debian/pool/main/p/pound/pound_4.16.orig.tar.gz' pound_4.16.orig.tar.gz 361516 SHA256:${SHA}`,
    "'http://mirror.example/debian/pool/main/p/pound/pound_4.16-3.debian.tar.xz' pound_4.16-3.debian.tar.xz 12140 MD5Sum:b422d81274dd1e89436b5d85b7ff346a",
  ].join('\n');
  assert.deepEqual(parsePrintUris(output), [
    {
      uri: 'http://mirror.example/debian/pool/main/p/pound/pound_4.16-3.dsc',
      name: 'pound_4.16-3.dsc',
      size: 2151,
      sha256: 'ce3b8e3bccd4d122fe6aacee5cef5534f3d88d1eb6ba3812e762f43b7a58e0fa',
    },
    { uri: 'http://mirror.example/debian/pool/main/p/pound/pound_4.16.orig.tar.gz', name: SPEC.file, size: 361516, sha256: SHA },
    { uri: 'http://mirror.example/debian/pool/main/p/pound/pound_4.16-3.debian.tar.xz', name: 'pound_4.16-3.debian.tar.xz', size: 12140 },
  ]);
});
