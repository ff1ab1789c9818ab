/**
 * A component's pinned source tarball: a file in the project, a URL or a file of a
 * Debian source package. Whatever the kind, what is handed to the build is a file in
 * the download cache whose sha256 was checked against the recipe's.
 */
import { accessSync, constants } from 'node:fs';
import { copyFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BuildError, UserError } from '../errors.js';
import { resolveInside } from '../paths.js';
import { findOnPath } from '../tools.js';
import { hashFile } from '../tree-hash.js';
import { readHostSources, type SourceStanza } from './apt-sources.js';
import { archiveStanza, hostDebianRelease } from './debian-archive.js';
import { APT_GET, APT_HELPER, fetchDebianSourceFile } from './debian-source.js';
import { DownloadCache } from './download-cache.js';
import { downloadUrl } from './url-source.js';
import type { Recipe } from '../recipe/schema.js';

type Component = NonNullable<Recipe['components']>[number];

export interface SourceOptions {
  /** The component's position in the recipe's components list, for error messages. */
  index: number;
  projectRoot: string;
  /** The download cache folder (the stage cache's `downloads`). */
  downloads: string;
  /** The host's apt configuration folder (default /etc/apt). */
  etcApt?: string;
  /** The host's os-release file (default /etc/os-release). */
  osRelease?: string;
}

export interface FetchOptions extends SourceOptions {
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export type SourceCheck =
  /** A verified tarball is on this machine: in the project, or in the download cache. */
  | { component: string; status: 'present'; file: string }
  /** The build will download it from `from`. */
  | { component: string; status: 'fetch'; from: string };

/** Returns the path of the verified tarball, fetching it into the download cache unless it is there. */
export async function fetchSource(component: Component, options: FetchOptions): Promise<string> {
  const { source } = component;
  const cache = new DownloadCache(options.downloads);
  const label = labelOf(component, options.index);
  const mismatch = (where: string) => (actual: string) => shaMismatch(component, options.index, where, actual);
  if ('path' in source) {
    const file = await projectFile(component, options);
    return cache.store(source.sha256, (temp) => copyFile(file, temp), mismatch(source.path));
  }
  const cached = await cache.lookup(source.sha256);
  if (cached) {
    options.log?.(`${component.name}: source ${describe(component)} from the download cache`);
    return cached;
  }
  if ('url' in source) {
    options.log?.(`${component.name}: downloading ${source.url}`);
    return cache.store(source.sha256, (temp) => downloadUrl(source.url, temp, `${label}.url`, options.signal), mismatch(source.url));
  }
  const host = archiveFor(component, options);
  options.log?.(`${component.name}: fetching ${describe(component)} from ${host.uris.join(' ')}`);
  return cache.store(
    source.sha256,
    (temp) =>
      fetchDebianSourceFile(source.debian, {
        host,
        sha256: source.sha256,
        dest: temp,
        label: `${label}.debian`,
        signal: options.signal,
        log: options.log,
      }),
    mismatch(`${source.debian.file} from Debian "${source.debian.suite}"`),
  );
}

/**
 * The offline check a plan runs before any stage: a path source exists and matches, a
 * cached download matches, an uncached Debian file has a host archive and apt's tools.
 */
export async function checkSource(component: Component, options: SourceOptions): Promise<SourceCheck> {
  const { source } = component;
  if ('path' in source) {
    const file = await projectFile(component, options);
    const actual = await hashFile(file);
    if (actual !== source.sha256) throw shaMismatch(component, options.index, source.path, actual);
    return { component: component.name, status: 'present', file };
  }
  const cached = await new DownloadCache(options.downloads).lookup(source.sha256);
  if (cached) return { component: component.name, status: 'present', file: cached };
  if ('url' in source) return { component: component.name, status: 'fetch', from: source.url };
  const host = archiveFor(component, options);
  return { component: component.name, status: 'fetch', from: `${describe(component)} from ${host.uris.join(' ')}` };
}

const labelOf = (c: Component, index: number) => `component ${c.name}: components[${index}].source`;

function describe(c: Component): string {
  const { source } = c;
  if ('path' in source) return source.path;
  if ('url' in source) return source.url;
  return `${source.debian.file} of Debian's source package ${source.debian.package} (${source.debian.suite})`;
}

function shaMismatch(c: Component, index: number, where: string, actual: string): UserError {
  return new UserError(
    `component ${c.name}: components[${index}].source: ${where} has sha256 ${actual}, but the recipe pins ${c.source.sha256}; ` +
      `check the tarball, or update components[${index}].source.sha256 if the new one is trusted`,
  );
}

/** A path source, resolved inside the project root; it must exist. */
async function projectFile(c: Component, options: SourceOptions): Promise<string> {
  if (!('path' in c.source)) throw new Error('not a path source');
  const relative = c.source.path;
  const field = `component ${c.name}: components[${options.index}].source.path`;
  let file: string;
  try {
    file = resolveInside(options.projectRoot, path.resolve(options.projectRoot, relative));
  } catch {
    throw new UserError(
      `${field}: ${relative} is outside the project root ${options.projectRoot}; ` +
        'put the tarball inside the project, or name it by source.url or source.debian',
    );
  }
  if (!(await stat(file).then((s) => s.isFile(), () => false))) {
    throw new UserError(`${field}: ${relative} is not a file in the project (${file}); add the tarball there, or name it by source.url or source.debian`);
  }
  return file;
}

/** The host's apt stanza that serves the Debian file's suite, and apt's tools to fetch it. */
function archiveFor(c: Component, options: SourceOptions): SourceStanza {
  if (!('debian' in c.source)) throw new Error('not a Debian source');
  const { suite } = c.source.debian;
  const field = `component ${c.name}: components[${options.index}].source.debian`;
  const release = hostDebianRelease(options.osRelease);
  const etcApt = options.etcApt ?? '/etc/apt';
  const host = archiveStanza(readHostSources(etcApt), suite, release);
  if (!host) {
    throw new UserError(
      `${field}: no apt source in ${etcApt} serves Debian "${suite}"${release ? ` or this host's release "${release}"` : ''}, ` +
        `so there is no Debian archive to fetch ${c.source.debian.file} from; add the Debian archive to the host's apt sources ` +
        `(a stanza in ${path.join(etcApt, 'sources.list.d/debian.sources')} with Types: deb, the mirror's URIs and Suites: ${release ?? suite}), ` +
        'or take the tarball from source.url',
    );
  }
  if (!findOnPath(APT_GET) || !isExecutable(APT_HELPER)) {
    throw new BuildError(`${field}: fetching a Debian source needs apt-get and ${APT_HELPER}; install them with: apt-get install apt`);
  }
  return host;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
