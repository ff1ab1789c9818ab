/** Runs host tools with argument arrays; a failure names the tool and shows its last output lines. */
import { execa, type Options } from 'execa';
import { BuildError } from './errors.js';
import { trackTool } from './cleanup.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Receives every output line, for progress display and logs. */
  onLine?: (line: string) => void;
}

export async function run(tool: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const execaOptions: Options = {
    cwd: options.cwd,
    env: { LC_ALL: 'C.UTF-8', ...options.env },
    input: options.input,
    all: true,
    reject: false,
    stripFinalNewline: true,
    ...(options.onLine ? { lines: false } : {}),
  };
  const child = execa(tool, args, execaOptions);
  if (options.onLine) {
    let pending = '';
    child.all?.on('data', (chunk: Buffer) => {
      const parts = (pending + chunk.toString()).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) options.onLine!(line);
    });
  }
  const untrack = trackTool(child);
  const result = await child.finally(untrack);
  if (result.exitCode !== 0 || result.signal) {
    const tail = String(result.all ?? '').split('\n').slice(-25).join('\n');
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
    throw new BuildError(`${tool} ${how}\n${tail}`);
  }
  return String(result.stdout ?? '');
}
