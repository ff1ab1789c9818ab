/**
 * The host's apt package sources, parsed from deb822 `.sources` files and the legacy
 * one-line `sources.list`. The Debian backend takes its mirror from them, and Debian
 * source packages are fetched from the archive they name.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface SourceStanza {
  /** deb, deb-src or both */
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** The stanza's Signed-By as written: keyring paths or fingerprints, or an embedded key block. */
  signedBy?: string;
}

/** Enabled stanzas of a deb822 sources file. Field names are case-insensitive; values may continue on indented lines. */
export function parseDeb822(text: string): SourceStanza[] {
  const stanzas: SourceStanza[] = [];
  for (const block of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let current: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith('#')) continue;
      const field = /^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$/.exec(line);
      if (field) {
        current = field[1]!.toLowerCase();
        fields.set(current, field[2]!.trimEnd());
      } else if (current && /^[ \t]/.test(line)) {
        fields.set(current, `${fields.get(current)}\n${line.trimEnd()}`);
      }
    }
    const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean);
    if (!fields.has('types') || words('enabled')[0] === 'no') continue;
    const signedBy = fields.get('signed-by')?.trim();
    stanzas.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      ...(signedBy ? { signedBy } : {}),
    });
  }
  return stanzas;
}

/** The deb and deb-src lines of a legacy sources.list, each as a stanza; `[signed-by=…]` is kept. */
export function parseSourcesList(text: string): SourceStanza[] {
  const stanzas: SourceStanza[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const options = new Map(
      (m[2] ?? '')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((option) => option.split('=', 2) as [string, string]),
    );
    const signedBy = options.get('signed-by');
    stanzas.push({
      types: [m[1]!],
      uris: [m[3]!],
      suites: [m[4]!],
      components: (m[5] ?? '').split(/\s+/).filter(Boolean),
      ...(signedBy ? { signedBy } : {}),
    });
  }
  return stanzas;
}

/** The host's stanzas: `<etcApt>/sources.list.d/*.sources`, then `<etcApt>/sources.list`. */
export function readHostSources(etcApt = '/etc/apt'): SourceStanza[] {
  const dir = path.join(etcApt, 'sources.list.d');
  let files: string[] = [];
  try {
    files = readdirSync(dir, { withFileTypes: true })
      .filter((f) => f.isFile() && f.name.endsWith('.sources'))
      .map((f) => path.join(dir, f.name))
      .sort();
  } catch {
    // no sources.list.d on this host
  }
  const stanzas = files.flatMap((file) => parseDeb822(readFileSync(file, 'utf8')));
  try {
    stanzas.push(...parseSourcesList(readFileSync(path.join(etcApt, 'sources.list'), 'utf8')));
  } catch {
    // no legacy list on this host
  }
  return stanzas;
}
