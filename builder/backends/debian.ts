/** The Debian backend: mmdebstrap into a reproducible tarball. */
import path from 'node:path';
import { run } from '../exec.js';
import { UserError } from '../errors.js';
import { nativePackages, parsePackageList, type BaseBackend, type BaseProblem } from './backend.js';
import { readHostSources } from '../sources/apt-sources.js';
import type { Recipe } from '../recipe/schema.js';

/** Files an appliance never reads; dropping them keeps the image lean. */
const EXCLUDED_PATHS = ['/usr/share/man/*', '/usr/share/doc/*', '/usr/share/locale/*', '/usr/share/info/*'];
const KEPT_PATHS = ['/usr/share/doc/*/copyright', '/usr/share/locale/locale.alias'];

export const debianBackend: BaseBackend = {
  name: 'debian',
  version: 1,
  baseProblems: debianBaseProblems,
  tools: ['mmdebstrap', 'dpkg-query'],
  packageNames: {
    kernel: 'linux-image-amd64',
    stunnel: 'stunnel4',
    ssh: 'openssh-server',
    grub: 'grub2-common',
    'grub-bios': 'grub-pc-bin',
    'grub-efi': 'grub-efi-amd64-bin',
    'web-server': 'lighttpd',
    'web-server-tls': 'lighttpd-mod-openssl',
  },

  async buildRootfs({ base, epoch, tarball, onLine, signal }) {
    const args = [
      `--mode=${process.getuid?.() === 0 ? 'root' : 'unshare'}`,
      '--variant=apt',
      '--format=tar',
      `--include=${nativePackages(debianBackend, base.packages).join(',')}`,
      ...EXCLUDED_PATHS.map((p) => `--dpkgopt=path-exclude=${p}`),
      ...KEPT_PATHS.map((p) => `--dpkgopt=path-include=${p}`),
      // Keys made by package scripts would be random bytes in an otherwise reproducible tarball.
      `--customize-hook=rm -f "$1"/etc/ssh/ssh_host_* "$1"/etc/ssl/private/ssl-cert-snakeoil.key "$1"/etc/ssl/certs/ssl-cert-snakeoil.pem`,
      base.release,
      tarball,
      ...aptSources(base),
    ];
    await run('mmdebstrap', args, { env: { SOURCE_DATE_EPOCH: String(epoch) }, onLine, input: '', signal });
  },

  async installedPackages(rootDir) {
    const out = await run('dpkg-query', [`--admindir=${path.join(rootDir, 'var/lib/dpkg')}`, '-W', '-f=${Package}\t${Version}\n']);
    return parsePackageList(out);
  },
};

function debianBaseProblems(base: Recipe['base']): BaseProblem[] {
  if (base.repositories) return [{ keyPath: ['base', 'repositories'], problem: 'is for the el backend; the debian backend takes base.mirror' }];
  try {
    aptSources(base);
    return [];
  } catch (error) {
    return [{ keyPath: ['base', 'release'], problem: (error as Error).message }];
  }
}

/** The apt source lines of a base: the recipe's mirror, else the host's sources for the release. */
export function aptSources(base: Recipe['base']): string[] {
  return base.mirror ? [`deb ${base.mirror} ${base.release} main`] : hostSourcesFor(base.release);
}

/**
 * Without a mirror in the recipe, the host's own package sources for the release
 * (and its -updates and -security suites) are used, as a release machine is set up.
 */
function hostSourcesFor(release: string): string[] {
  const lines: string[] = [];
  for (const stanza of readHostSources().filter((s) => s.types.includes('deb'))) {
    for (const suite of stanza.suites) {
      if (suite === release || suite.startsWith(`${release}-`)) {
        for (const uri of stanza.uris) lines.push(`deb ${uri} ${suite} ${stanza.components.join(' ')}`);
      }
    }
  }
  if (lines.length === 0) {
    throw new UserError(
      `no package source for Debian "${release}" is configured on this host; set base.mirror in the recipe (e.g. an http:// Debian mirror URL)`,
    );
  }
  return lines;
}
