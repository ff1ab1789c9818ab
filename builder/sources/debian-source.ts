/**
 * Fetches one file of a Debian source package through a private apt configuration:
 * a deb-src stanza for the suite on the host's own Debian archive, `apt-get update`,
 * `apt-get --print-uris source` for the file's URI and the archive's sha256 of it
 * (from the signed Sources index), then apt's own downloader, which checks that sha256.
 * Only the named file is downloaded, through the host's apt settings (proxies, keys).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../exec.js';
import { BuildError, UserError } from '../errors.js';
import { trackTemporary, untrackTemporary } from '../cleanup.js';
import { privateAptOptions, sandboxedDownloadDir, writePrivateApt } from './private-apt.js';
import type { SourceStanza } from './apt-sources.js';

export const APT_GET = 'apt-get';
export const APT_HELPER = '/usr/lib/apt/apt-helper';

export interface DebianFileSpec {
  package: string;
  suite: string;
  file: string;
}

export interface ArchiveFile {
  uri: string;
  name: string;
  size: number;
  sha256?: string;
}

/** The `'URI' name size HASH` lines of `apt-get --print-uris source`. */
export function parsePrintUris(output: string): ArchiveFile[] {
  const files: ArchiveFile[] = [];
  for (const line of output.split('\n')) {
    const m = /^'([^']+)'\s+(\S+)\s+(\d+)(?:\s+(\S+?):([0-9a-fA-F]+))?\s*$/.exec(line);
    if (!m) continue;
    const sha256 = m[4]?.toUpperCase() === 'SHA256' ? m[5]!.toLowerCase() : undefined;
    files.push({ uri: m[1]!, name: m[2]!, size: Number(m[3]), ...(sha256 ? { sha256 } : {}) });
  }
  return files;
}

/** apt-get's arguments for the private configuration in `dir`. */
export function aptGetArgs(dir: string, spec: DebianFileSpec): { update: string[]; printUris: string[] } {
  const options = privateAptOptions(dir);
  return {
    update: [...options, 'update'],
    printUris: [...options, '--print-uris', 'source', '--only-source', `${spec.package}/${spec.suite}`],
  };
}

/** apt-helper's arguments: download `file` to `dest`, failing unless it has `sha256`. */
export function downloadArgs(dir: string, file: ArchiveFile, dest: string, sha256: string): string[] {
  return [...privateAptOptions(dir), 'download-file', file.uri, dest, `SHA256:${sha256}`];
}

export interface DebianFetchOptions {
  /** The host stanza whose archive serves the suite. */
  host: SourceStanza;
  /** The pinned sha256. */
  sha256: string;
  /** Where the file is written. */
  dest: string;
  /** Names the component and field in errors, e.g. "component pound: components[0].source.debian". */
  label: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export async function fetchDebianSourceFile(spec: DebianFileSpec, options: DebianFetchOptions): Promise<void> {
  const { host, sha256, dest, label, signal, log } = options;
  const archive = host.uris.join(' ');
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-apt-'));
  trackTemporary(dir);
  try {
    await writePrivateApt(dir, host, spec.suite);
    const args = aptGetArgs(dir, spec);
    await run(APT_GET, args.update, { signal, onLine: log }).catch((error: Error) => {
      if (signal?.aborted) throw error;
      throw new BuildError(`${label}: apt-get update of Debian "${spec.suite}" sources from ${archive} failed: ${error.message}`);
    });
    const listing = await run(APT_GET, args.printUris, { signal }).catch((error: Error) => {
      if (signal?.aborted) throw error;
      if (/Unable to find a source package/.test(error.message)) {
        throw new UserError(`${label}.package: Debian "${spec.suite}" (from ${archive}) has no source package "${spec.package}"; check source.debian.package and source.debian.suite`);
      }
      throw new BuildError(`${label}: apt-get --print-uris source ${spec.package}/${spec.suite} failed: ${error.message}`);
    });
    const files = parsePrintUris(listing);
    const file = files.find((f) => f.name === spec.file);
    if (!file) {
      throw new UserError(
        `${label}.file: Debian's source package ${spec.package} in "${spec.suite}" has no file ${spec.file}; ` +
          `its files are: ${files.map((f) => f.name).join(', ') || 'none'}`,
      );
    }
    if (file.sha256 && file.sha256 !== sha256) {
      throw new UserError(
        `${label}: Debian "${spec.suite}" has ${spec.file} with sha256 ${file.sha256}, but the recipe pins ${sha256}; ` +
          'the archive carries another version: update source.debian and source.sha256 if it is trusted',
      );
    }
    const downloaded = path.join(sandboxedDownloadDir(dir), file.name);
    await run(APT_HELPER, downloadArgs(dir, file, downloaded, sha256), { signal, onLine: log }).catch((error: Error) => {
      if (signal?.aborted) throw error;
      throw new BuildError(`${label}: cannot download ${file.name} from ${file.uri}: ${error.message}`);
    });
    await copyFile(downloaded, dest);
  } finally {
    await rm(dir, { recursive: true, force: true });
    untrackTemporary(dir);
  }
}
