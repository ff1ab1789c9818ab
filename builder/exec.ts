/** Runs host tools with argument arrays; a failure names the tool and shows its last output lines. */
import { execa, type Options } from 'execa';
import { BuildError } from './errors.js';
import { stopTools, trackTool, type RunningTool } from './cleanup.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Receives every output line, for progress display and logs. */
  onLine?: (line: string) => void;
  /** Stops the tool (its whole process group) when aborted; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function run(tool: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  options.signal?.throwIfAborted();
  const execaOptions: Options = {
    cwd: options.cwd,
    env: { LC_ALL: 'C.UTF-8', ...options.env },
    input: options.input,
    all: true,
    reject: false,
    stripFinalNewline: true,
    // A process group of its own, so that stopping a tool stops what it started too (mmdebstrap's dpkg and tar).
    detached: true,
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
  const running: RunningTool = { kill: (signal) => killGroup(child.pid, signal), exited: child };
  const untrack = trackTool(running);
  const stop = () => void stopTools([running]);
  options.signal?.addEventListener('abort', stop, { once: true });
  const result = await child.finally(() => {
    untrack();
    options.signal?.removeEventListener('abort', stop);
  });
  options.signal?.throwIfAborted();
  if (result.exitCode !== 0 || result.signal) {
    const tail = String(result.all ?? '').split('\n').slice(-25).join('\n');
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
    throw new BuildError(`${tool} ${how}\n${tail}`);
  }
  return String(result.stdout ?? '');
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // the group has already exited
  }
}
