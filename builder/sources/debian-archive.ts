/**
 * Which of the host's apt sources is the Debian archive for a suite. No host name is
 * written into the project: the URIs (and keyring) come from the host's own stanza.
 */
import { readFileSync } from 'node:fs';
import type { SourceStanza } from './apt-sources.js';

/**
 * The stanza to fetch `suite` from: one that already serves it, else the one serving
 * the host's own Debian release (a Debian mirror carries every suite). Security and
 * -updates stanzas serve neither name, so they are never picked.
 */
export function archiveStanza(stanzas: SourceStanza[], suite: string, hostRelease: string | undefined): SourceStanza | undefined {
  const usable = stanzas.filter((s) => s.uris.length > 0 && (s.types.includes('deb') || s.types.includes('deb-src')));
  return usable.find((s) => s.suites.includes(suite)) ?? (hostRelease ? usable.find((s) => s.suites.includes(hostRelease)) : undefined);
}

/** The codename of a Debian host from its os-release text (undefined on other distributions). */
export function debianRelease(osRelease: string): string | undefined {
  const fields = new Map<string, string>();
  for (const line of osRelease.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[2]!.replace(/^(["'])(.*)\1$/, '$2'));
  }
  return fields.get('ID') === 'debian' ? fields.get('VERSION_CODENAME') || undefined : undefined;
}

export function hostDebianRelease(file = '/etc/os-release'): string | undefined {
  try {
    return debianRelease(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
