/**
 * A layer-2 test network in a network namespace of its own: bridge "front"
 * (192.168.2.0/24, the client 192.168.2.100) and bridge "back" (10.1.0.0/24, where the
 * namespace has 10.1.0.100 to reach the NAT real servers directly), with a tap per VM
 * NIC. Nothing outside the namespace is reachable from it, nor it from outside;
 * removing the namespace removes the bridges and taps with it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

export type Bridge = 'front' | 'back';

export const CLIENT_ADDRESS = '192.168.2.100';
/** The namespace's own address on "back", for requests straight to the NAT real servers. */
export const BACK_PROBE_ADDRESS = '10.1.0.100';
const BRIDGE_ADDRESS: Record<Bridge, string> = { front: `${CLIENT_ADDRESS}/24`, back: `${BACK_PROBE_ADDRESS}/24` };

export interface Ran {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface L2Network {
  namespace: string;
  /** Makes a tap device on `bridge` for one VM NIC (unplugged, on no bridge, with `bridge` null); returns its name. */
  addTap(bridge: Bridge | null, name: string): Promise<string>;
  /** Plugs a tap into `bridge`, e.g. once its VM has an address of its own. */
  plug(name: string, bridge: Bridge): Promise<void>;
  /** Runs a program inside the namespace (an argument array, no shell); never rejects on its exit status. */
  exec(file: string, args: string[], options?: { timeoutMs?: number }): Promise<Ran>;
  /** Stops every process left in the namespace and removes it; safe to call twice. */
  remove(): Promise<void>;
}

/** Namespaces made by this process, removed when it exits, however it exits. */
const live = new Set<string>();
let exitHandlersInstalled = false;

function removeAtExit(namespace: string): void {
  if (!exitHandlersInstalled) {
    exitHandlersInstalled = true;
    process.once('exit', () => {
      for (const left of live) removeNamespaceSync(left);
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        for (const left of live) removeNamespaceSync(left);
        process.kill(process.pid, signal);
      });
    }
  }
  live.add(namespace);
}

export async function createL2Network(): Promise<L2Network> {
  const namespace = `lbtest-${process.pid}-${randomBytes(3).toString('hex')}`;
  await ip(['netns', 'add', namespace]);
  removeAtExit(namespace);
  try {
    await ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
    for (const bridge of ['front', 'back'] as const) {
      await ip(['-n', namespace, 'link', 'add', bridge, 'type', 'bridge']);
      await ip(['-n', namespace, 'addr', 'add', BRIDGE_ADDRESS[bridge], 'dev', bridge]);
      await ip(['-n', namespace, 'link', 'set', bridge, 'up']);
    }
  } catch (error) {
    await removeNamespace(namespace);
    throw error;
  }
  return {
    namespace,
    async addTap(bridge, name) {
      await ip(['-n', namespace, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
      if (bridge) await ip(['-n', namespace, 'link', 'set', name, 'master', bridge]);
      await ip(['-n', namespace, 'link', 'set', name, 'up']);
      return name;
    },
    async plug(name, bridge) {
      await ip(['-n', namespace, 'link', 'set', name, 'master', bridge]);
    },
    async exec(file, args, options = {}) {
      const { exitCode, stdout, stderr, timedOut } = await execa('ip', ['netns', 'exec', namespace, file, ...args], {
        reject: false,
        timeout: options.timeoutMs ?? 30_000,
      });
      return { exitCode, stdout, stderr, timedOut };
    },
    remove: () => removeNamespace(namespace),
  };
}

async function ip(args: string[]): Promise<void> {
  const result = await execa('ip', args, { reject: false, all: true });
  if (result.exitCode !== 0) throw new Error(`ip ${args.join(' ')} exited ${result.exitCode}: ${result.all}`);
}

async function removeNamespace(namespace: string): Promise<void> {
  if (!live.has(namespace)) return;
  // QEMU holds its taps (and with them the namespace) until it exits.
  const pids = await execa('ip', ['netns', 'pids', namespace], { reject: false });
  for (const pid of pids.stdout.split('\n').filter(Boolean).map(Number)) killQuietly(pid);
  for (let waited = 0; waited < 5000 && (await execa('ip', ['netns', 'pids', namespace], { reject: false })).stdout.trim(); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await ip(['netns', 'delete', namespace]);
  live.delete(namespace);
}

function removeNamespaceSync(namespace: string): void {
  const pids = execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' });
  for (const pid of pids.split('\n').filter(Boolean).map(Number)) killQuietly(pid, 'SIGKILL');
  execFileSync('ip', ['netns', 'delete', namespace]);
  live.delete(namespace);
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * curl from the client inside the namespace. curl's own --max-time bounds each request
 * (10 s, unless `extra` gives another, as the WUI's slow pages do); the process limit
 * only catches a curl that hangs past it.
 */
export function clientCurl(network: L2Network, url: string, extra: string[] = []): Promise<Ran> {
  return network.exec('curl', ['-sS', '--max-time', '10', ...extra, url], { timeoutMs: 180_000 });
}
