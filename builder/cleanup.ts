/**
 * Temporary paths and running tools of the build. On Ctrl-C or a kill the tools are
 * stopped and the paths removed before exiting, so neither --out nor the cache keeps
 * anything half-written and no tool keeps running on its own.
 */
import { rmSync } from 'node:fs';

const temporaries = new Set<string>();
const tools = new Set<{ kill(signal?: NodeJS.Signals): boolean }>();

export function trackTool(tool: { kill(signal?: NodeJS.Signals): boolean }): () => void {
  tools.add(tool);
  return () => tools.delete(tool);
}

export function trackTemporary(path: string): void {
  temporaries.add(path);
}

export function untrackTemporary(path: string): void {
  temporaries.delete(path);
}

/** Stops every running tool; the code waiting on each then fails and removes what it was making. */
export function stopTools(): void {
  for (const tool of tools) tool.kill('SIGTERM');
}

export function cleanUpOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopTools();
      for (const path of temporaries) rmSync(path, { recursive: true, force: true });
      process.stderr.write(`\nlbbuild: interrupted by ${signal}; temporary files removed\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
