/**
 * A private apt configuration in a folder of its own: its own source list (one deb-src
 * stanza), package lists and cache. The host's /etc/apt is only read: its apt.conf.d
 * (proxies, options) and trusted keys still apply.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SourceStanza } from './apt-sources.js';

/** The -o options that point apt at the private folder `dir`. */
export function privateAptOptions(dir: string): string[] {
  return [
    '-o', `Dir::Etc::sourcelist=${path.join(dir, 'sources.list')}`,
    '-o', `Dir::Etc::sourceparts=${path.join(dir, 'sources.list.d')}`,
    '-o', `Dir::State::Lists=${path.join(dir, 'lists')}`,
    '-o', `Dir::Cache=${path.join(dir, 'cache')}`,
  ];
}

/** A deb-src stanza for `suite` from the archive (URIs, components, keyring) of a host stanza. */
export function debSrcStanza(host: SourceStanza, suite: string): string {
  const lines = [
    'Types: deb-src',
    `URIs: ${host.uris.join(' ')}`,
    `Suites: ${suite}`,
    `Components: ${host.components.length ? host.components.join(' ') : 'main'}`,
    ...(host.signedBy ? [`Signed-By: ${host.signedBy}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** Lays out the private configuration in `dir` (which must exist and be empty). */
export async function writePrivateApt(dir: string, host: SourceStanza, suite: string): Promise<void> {
  // apt drops to its sandbox user (_apt) for downloads; it must be able to reach the lists.
  await chmod(dir, 0o755);
  for (const sub of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) await mkdir(path.join(dir, sub), { recursive: true });
  await writeFile(path.join(dir, 'sources.list'), '');
  await writeFile(path.join(dir, 'sources.list.d', 'lbbuild-source.sources'), debSrcStanza(host, suite));
}

/**
 * Where apt may write a download as its sandbox user: the lists' partial folder, which
 * `apt-get update` hands to that user (elsewhere apt downloads as root and warns).
 */
export function sandboxedDownloadDir(dir: string): string {
  return path.join(dir, 'lists', 'partial');
}
