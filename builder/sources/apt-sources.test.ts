import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDeb822, parseSourcesList, readHostSources } from './apt-sources.js';
import { archiveStanza, debianRelease } from './debian-archive.js';

const SAMPLE_SOURCES = `Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

types: deb deb-src
uris: http://old.example/debian
suites: bullseye
components: main contrib
enabled: no

Types: deb
URIs: https://vendor.example/apt
Suites: stable
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGZ0ZXN0
 -----END PGP PUBLIC KEY BLOCK-----
`;

const SAMPLE_LIST = `# the legacy list
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm main contrib # a comment
deb http://mirror.example/debian-security bookworm-security main
#deb http://disabled.example/debian bookworm main
deb-src http://mirror.example/debian trixie main
`;

test('a deb822 .sources file: enabled stanzas, comments skipped, field names in any case, embedded keys kept', () => {
  const stanzas = parseDeb822(SAMPLE_SOURCES);
  assert.deepEqual(stanzas.slice(0, 2), [
    {
      types: ['deb'],
      uris: ['http://mirror.example/debian'],
      suites: ['bookworm', 'bookworm-updates'],
      components: ['main'],
      signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg',
    },
    {
      types: ['deb'],
      uris: ['http://mirror.example/debian-security'],
      suites: ['bookworm-security'],
      components: ['main'],
      signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg',
    },
  ]);
  assert.equal(stanzas.length, 3, 'the disabled stanza is left out');
  assert.equal(stanzas[2]!.signedBy, '-----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGZ0ZXN0\n -----END PGP PUBLIC KEY BLOCK-----');
});

test('a legacy sources.list: deb and deb-src lines, options and trailing comments', () => {
  assert.deepEqual(parseSourcesList(SAMPLE_LIST), [
    {
      types: ['deb'],
      uris: ['http://mirror.example/debian'],
      suites: ['bookworm'],
      components: ['main', 'contrib'],
      signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg',
    },
    { types: ['deb'], uris: ['http://mirror.example/debian-security'], suites: ['bookworm-security'], components: ['main'] },
    { types: ['deb-src'], uris: ['http://mirror.example/debian'], suites: ['trixie'], components: ['main'] },
  ]);
});

test('the host sources are the .sources files, then sources.list', async () => {
  const etc = await mkdtemp(path.join(tmpdir(), 'lbbuild-apt-etc-'));
  try {
    assert.deepEqual(readHostSources(etc), [], 'an empty apt folder has no sources');
    await mkdir(path.join(etc, 'sources.list.d'));
    await writeFile(path.join(etc, 'sources.list.d', 'debian.sources'), SAMPLE_SOURCES);
    await writeFile(path.join(etc, 'sources.list.d', 'other.list.disabled'), 'deb http://ignored.example/debian bookworm main\n');
    await writeFile(path.join(etc, 'sources.list'), SAMPLE_LIST);
    const uris = readHostSources(etc).map((s) => `${s.types.join('+')} ${s.uris[0]} ${s.suites.join(',')}`);
    assert.deepEqual(uris, [
      'deb http://mirror.example/debian bookworm,bookworm-updates',
      'deb http://mirror.example/debian-security bookworm-security',
      'deb https://vendor.example/apt stable',
      'deb http://mirror.example/debian bookworm',
      'deb http://mirror.example/debian-security bookworm-security',
      'deb-src http://mirror.example/debian trixie',
    ]);
  } finally {
    await rm(etc, { recursive: true });
  }
});

test('the archive for a suite: the stanza serving the host release, never the security one; one serving the suite itself first', () => {
  const deb822 = parseDeb822(SAMPLE_SOURCES);
  assert.equal(archiveStanza(deb822, 'trixie', 'bookworm')?.uris[0], 'http://mirror.example/debian');
  assert.equal(archiveStanza(deb822, 'trixie', 'bookworm')?.signedBy, '/usr/share/keyrings/debian-archive-keyring.gpg');
  assert.equal(archiveStanza(deb822, 'trixie', undefined), undefined, 'not a Debian host and no stanza for the suite');
  assert.equal(archiveStanza(deb822.slice(1), 'trixie', 'bookworm'), undefined, 'the security archive alone does not serve trixie');

  const legacy = parseSourcesList(SAMPLE_LIST);
  assert.deepEqual(archiveStanza(legacy, 'trixie', 'bookworm')?.types, ['deb-src'], 'the line for trixie itself wins');
  assert.deepEqual(archiveStanza(legacy, 'sid', 'bookworm')?.components, ['main', 'contrib']);
});

test('the Debian release of the host from os-release', () => {
  assert.equal(debianRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'), 'bookworm');
  assert.equal(debianRelease('ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n'), undefined);
  assert.equal(debianRelease('ID="debian"\nVERSION_CODENAME=\n'), undefined, 'sid has no codename');
});
