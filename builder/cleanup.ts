/**
 * Temporary paths of the running build. On Ctrl-C or a kill they are removed before
 * exiting, so neither --out nor the cache keeps anything half-written.
 */
import { rmSync } from 'node:fs';

const temporaries = new Set<string>();

export function trackTemporary(path: string): void {
  temporaries.add(path);
}

export function untrackTemporary(path: string): void {
  temporaries.delete(path);
}

export function removeTemporariesOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const path of temporaries) rmSync(path, { recursive: true, force: true });
      process.stderr.write(`\nlbbuild: interrupted by ${signal}; temporary files removed\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
