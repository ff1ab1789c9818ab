/**
 * The el backend: CentOS Stream, AlmaLinux or Rocky Linux, installed by Debian's dnf with
 * --installroot into a reproducible tarball. Repositories, their signing keys and the
 * release ($releasever) come from the recipe; none of the host's dnf or rpm setup takes part.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../exec.js';
import { BuildError, UserError } from '../errors.js';
import { resolveParentInRoot } from '../rootdir.js';
import type { Recipe } from '../recipe/schema.js';
import { nativePackages, parsePackageList, type BaseBackend, type BaseProblem } from './backend.js';

/**
 * rpm settings of the installed system, which dnf's rpm reads from $HOME/.rpmmacros.
 * Debian's own default would put the database in ~/.rpmdb.
 */
const RPM_MACROS = {
  _dbpath: '/var/lib/rpm',
  _db_backend: 'sqlite',
  // Like the Debian base, no translations but English.
  _install_langs: 'en:en_US',
};

/** dnf settings of every build; repositories come from the recipe. */
const DNF_MAIN = {
  // The recipe says what the appliance gets; weak dependencies would add to it.
  install_weak_deps: 'False',
  // Like the Debian base, no manuals or documentation.
  tsflags: 'nodocs',
  // A server that sends nothing for 5 s is given up (librepo tries a URL 4 times), so an
  // unreachable mirror fails in seconds; a stalled package download is retried.
  timeout: '5',
  skip_if_unavailable: 'False',
};

/** What dnf and rpm leave in the root that differs between runs and no installed system needs. */
const VOLATILE_PATHS = [
  'var/cache/dnf',
  'var/lib/dnf', // the transaction history, stamped with the wall clock
  'var/log/dnf.log',
  'var/log/dnf.librepo.log',
  'var/log/dnf.rpm.log',
  'var/log/hawkey.log',
  // rpm checkpoints its database when it closes it, leaving an empty write-ahead log, its index and a lock.
  'var/lib/rpm/.rpm.lock',
  'var/lib/rpm/rpmdb.sqlite-shm',
  'var/lib/rpm/rpmdb.sqlite-wal',
  'var/cache/ldconfig/aux-cache', // inode numbers and times of the libraries ldconfig saw
];

/** How dnf says an install failed, the lines of its output that name the culprits, and what to do. */
const INSTALL_FAILURES = [
  {
    says: /GPG check FAILED/,
    culprits: /is not signed|Problem opening package|Public key for/,
    means:
      "package signature check failed: a package is unsigned, signed by another key, or was changed after signing; every package must carry a valid signature by its repository's base.repositories.<id>.gpgkey",
  },
  {
    says: /No match for argument/,
    culprits: /No match for argument/,
    means: 'packages not found in any repository: check base.packages and the el name table in builder/backends/el.ts',
  },
];

interface Repository {
  id: string;
  url: string;
  /** The recipe option that moves this repository to another server. */
  option: string;
  gpgcheck: boolean;
  gpgkey?: string;
}

export const elBackend: BaseBackend = {
  name: 'el',
  version: 1,
  baseProblems: elBaseProblems,
  tools: ['dnf', 'rpm', 'tar'],
  // Names not listed are the same in EL9 (kernel, stunnel, haproxy, ipvsadm, nftables, dbus, kmod, less, sudo, openssl).
  packageNames: {
    ssh: 'openssh-server',
    grub: 'grub2-tools',
    'grub-bios': 'grub2-pc-modules',
    'grub-efi': 'grub2-efi-x64-modules',
    'web-server': 'lighttpd', // EPEL
    'web-server-tls': 'lighttpd-mod_openssl', // EPEL
    'systemd-sysv': 'systemd',
    udev: 'systemd-udev',
    iproute2: 'iproute',
    procps: 'procps-ng',
  },

  async buildRootfs({ base, epoch, tarball, onLine, signal }) {
    if (process.getuid?.() !== 0) {
      throw new UserError('the el backend must run as root: rpm sets file owners and runs package scriptlets in a chroot');
    }
    const repositories = repositoriesOf(base);
    // Beside the tarball: on the same disk, and removed with it if the build is interrupted.
    const work = await mkdtemp(path.join(path.dirname(tarball), '.el-'));
    try {
      const root = path.join(work, 'root');
      const reposDir = path.join(work, 'repos.d');
      await mkdir(root);
      await chmod(root, 0o755);
      await mkdir(reposDir);
      // EL's modular AppStream is filtered by platform, which dnf would read from the still empty root.
      const mainConf = { ...DNF_MAIN, module_platform_id: `platform:el${base.release}` };
      await writeFile(path.join(work, 'dnf.conf'), iniSection('main', mainConf));
      await writeFile(path.join(reposDir, 'lbbuild.repo'), repositories.map(repoSection).join('\n'));
      await writeFile(path.join(work, '.rpmmacros'), Object.entries(RPM_MACROS).map(([k, v]) => `%${k} ${v}\n`).join(''));
      const dnf = (args: string[]) =>
        run(
          'dnf',
          [
            `--config=${path.join(work, 'dnf.conf')}`,
            // Otherwise dnf falls back to the host's /etc/yum.repos.d.
            `--setopt=reposdir=${reposDir}`,
            `--installroot=${root}`,
            `--releasever=${base.release}`,
            '--noplugins',
            '--assumeyes',
            '--color=never',
            ...args,
          ],
          // rpm stamps install times with SOURCE_DATE_EPOCH, which keeps its database reproducible.
          { env: { HOME: work, SOURCE_DATE_EPOCH: String(epoch) }, onLine, signal },
        );
      // Reading every repository's metadata first tells an unreachable mirror from a failed install.
      await dnf(['makecache']).catch((error: unknown) => {
        throw unreadable(error, repositories);
      });
      await dnf(['install', ...nativePackages(elBackend, base.packages)]).catch((error: unknown) => {
        throw explained(error);
      });
      for (const volatile of VOLATILE_PATHS) await rm(path.join(root, volatile), { recursive: true, force: true });
      await run('tar', [
        '--create',
        `--file=${tarball}`,
        `--directory=${root}`,
        '--format=posix',
        '--sort=name',
        `--mtime=@${epoch}`,
        '--clamp-mtime',
        '--numeric-owner',
        // File capabilities are the one kind of extended attribute rpm sets here.
        '--xattrs',
        '--xattrs-include=security.capability',
        '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
        '.',
      ], { signal });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },

  async installedPackages(rootDir) {
    const database = path.join(await resolveParentInRoot(rootDir, `${RPM_MACROS._dbpath}/rpmdb.sqlite`), 'rpmdb.sqlite');
    // Read from a copy: sqlite leaves its index and log files beside a database it opened.
    const copy = await mkdtemp(path.join(os.tmpdir(), 'lbbuild-rpmdb-'));
    try {
      await copyFile(database, path.join(copy, 'rpmdb.sqlite'));
      const query = '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n';
      const out = await run('rpm', ['--dbpath', copy, '--define', `_db_backend ${RPM_MACROS._db_backend}`, '--query', '--all', '--queryformat', query]);
      return parsePackageList(out)
        // The repository keys dnf imported are listed as gpg-pubkey packages; they are not software.
        .filter((p) => p.name !== 'gpg-pubkey')
        .sort((a, b) => a.name.localeCompare(b.name));
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  },
};

/** What is wrong with an el base, found before anything runs (baseProblems of the backend). */
function elBaseProblems(base: Recipe['base']): BaseProblem[] {
  const entries = Object.entries(base.repositories ?? {});
  if (entries.length === 0) {
    return [{ keyPath: ['base'], problem: 'the el backend needs its RPM repositories (base.repositories, e.g. baseos and appstream)' }];
  }
  const problems: BaseProblem[] = [];
  for (const [id, repo] of entries) {
    if (isRelative(repo) && !base.mirror) {
      problems.push({ keyPath: ['base', 'repositories', id, 'baseurl'], problem: `"${repo.baseurl}" is a path under base.mirror, which is not set; set base.mirror to the mirror's URL` });
    }
    if ((repo.gpgcheck ?? true) && !repo.gpgkey) {
      problems.push({ keyPath: ['base', 'repositories', id], problem: 'gpgcheck is on but gpgkey is not set; give the URL or path of the key its packages are signed with' });
    }
    const keyFile = repo.gpgkey?.startsWith('file://') ? repo.gpgkey.slice('file://'.length) : repo.gpgkey?.startsWith('/') ? repo.gpgkey : undefined;
    if (keyFile && !existsSync(keyFile)) {
      problems.push({ keyPath: ['base', 'repositories', id, 'gpgkey'], problem: `${keyFile} does not exist on this host; give the path of the repository's signing key` });
    }
  }
  return problems;
}

const isRelative = (repo: { baseurl: string }) => !/^[a-z]+:\/\//.test(repo.baseurl);

/** The recipe's repositories as dnf gets them; elBaseProblems has vetted them. */
function repositoriesOf(base: Recipe['base']): Repository[] {
  return Object.entries(base.repositories ?? {}).map(([id, repo]) => {
    const relative = isRelative(repo);
    return {
      id,
      url: relative ? `${base.mirror!.replace(/\/+$/, '')}/${repo.baseurl}` : repo.baseurl,
      option: relative ? 'base.mirror' : `base.repositories.${id}.baseurl`,
      gpgcheck: repo.gpgcheck ?? true,
      gpgkey: repo.gpgkey?.startsWith('/') ? `file://${repo.gpgkey}` : repo.gpgkey,
    };
  });
}

function iniSection(name: string, settings: Record<string, string>): string {
  return `[${name}]\n${Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join('')}`;
}

function repoSection(repo: Repository): string {
  return iniSection(repo.id, {
    name: repo.id,
    baseurl: repo.url,
    gpgcheck: repo.gpgcheck ? '1' : '0',
    ...(repo.gpgkey ? { gpgkey: repo.gpgkey } : {}),
  });
}

/** A failed metadata download, as the recipe's problem: which repository, why, and what to change. */
function unreadable(error: unknown, repositories: Repository[]): unknown {
  if (!(error instanceof BuildError)) return error;
  const failedId = error.message.match(/metadata for repo(?:sitory)? '([^']+)'/)?.[1];
  const failed = repositories.filter((r) => r.id === failedId);
  const named = failed.length > 0 ? failed : repositories;
  const reasons = error.message.split('\n').filter((line) => /^\s+- /.test(line)).map((line) => line.trim().slice(2));
  return new UserError(
    `cannot read ${named.map((r) => `repository "${r.id}" at ${r.url}`).join(', ')}: ${reasons.join('; ') || error.message}\n` +
      `if this machine cannot reach it, point ${[...new Set(named.map((r) => r.option))].join(' or ')} in the recipe at a mirror it can reach`,
  );
}

/** A failed install, with dnf's lines that name the culprits and what they mean. */
function explained(error: unknown): unknown {
  if (!(error instanceof BuildError)) return error;
  const failure = INSTALL_FAILURES.find((f) => f.says.test(error.message));
  if (!failure) return error;
  const culprits = error.message.split('\n').filter((line) => failure.culprits.test(line)).map((line) => `  ${line.trim()}`);
  return new BuildError(`dnf: ${failure.means}\n${culprits.join('\n')}`);
}
