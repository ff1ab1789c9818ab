/**
 * The clustered pair's test bed, for the HA test and the failover benchmark: master,
 * slave and the backend VM of real servers on the layer-2 network, a serial cable
 * between the two load balancers (their ttyS1, a QEMU socket pair), and the client's
 * requests from inside the network's namespace. Both load balancers boot the same
 * build, each on a qcow2 overlay of its own, so a node powered off (QEMU killed) comes
 * back with what it had written, as a real appliance does.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { bootBackend, type BackendVm } from './backend-vm.js';
import { clientCurl, createL2Network, type L2Network, type Ran } from './l2-network.js';
import { bootLoadBalancer, LB_ADDRESS, type LoadBalancerOptions, type LoadBalancerVm } from './lb-vm.js';
import { server } from './backend-vm.js';
import { LAYER7, waitFor } from './services-setup.js';

export const MASTER_ADDRESS = LB_ADDRESS;
export const SLAVE_ADDRESS = '192.168.2.22';
export type Node = 'master' | 'slave';

/** `lbcli --action ha-status --json`. */
export interface HaStatus {
  role: 'master' | 'slave' | 'none';
  state: 'active' | 'passive';
  link: 'up' | 'down';
  peer: { name: string; address: string } | null;
  warning: { code: string; message: string } | null;
}

export interface HaLab {
  network: L2Network;
  node: Record<Node, LoadBalancerVm>;
  backend: BackendVm;
  curl(url: string, extra?: string[]): Promise<Ran>;
  /** Powers a node off: its QEMU is killed, its disk keeps what it had written. */
  powerOff(node: Node): Promise<void>;
  /** Powers a node on again and logs in as root. */
  powerOn(node: Node): Promise<void>;
  haStatus(node: Node): Promise<HaStatus>;
  /** Whether the node has `ip` on one of its interfaces. */
  holds(node: Node, ip: string): Promise<boolean>;
  close(): Promise<void>;
}

const VM_OPTIONS: Record<Node, LoadBalancerOptions> = {
  master: { name: 'ma', macByte: 0x36 },
  slave: { name: 'sl', macByte: 0x37 },
};

export async function startHaLab(image: string): Promise<HaLab> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-ha-'));
  const disk = (node: Node) => path.join(dir, `${node}.qcow2`);
  const cable = path.join(dir, 'heartbeat-cable.sock');
  for (const node of ['master', 'slave'] as const) {
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image, disk(node)]);
  }
  const network = await createL2Network();
  const boot = (node: Node, first: boolean) =>
    bootLoadBalancer(network, disk(node), {
      ...VM_OPTIONS[node],
      persistentQcow2: true,
      serialLink: { socket: cable, listen: node === 'master' },
      // Both boot the same image with the same address: the slave's cable goes in once it has its own.
      unplugged: first && node === 'slave',
      tapsExist: !first,
    });
  const node = {} as Record<Node, LoadBalancerVm>;
  let backend: BackendVm;
  try {
    const master = boot('master', true);
    // The master's end of the serial cable listens; the slave's connects to it.
    await waitFor('the serial cable socket', async () => (existsSync(cable) ? true : undefined), 30_000);
    [node.master, node.slave, backend] = await Promise.all([master, boot('slave', true), bootBackend({ image, network, drVips: [] })]);
    await node.slave.vm.console.check(`lb-apply-network --address ${SLAVE_ADDRESS}/24`, 120_000);
    await network.plug(`${VM_OPTIONS.slave.name}-eth0`, 'front');
  } catch (error) {
    await network.remove();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const curl = (url: string, extra: string[] = []) => clientCurl(network, url, extra);
  return {
    network,
    node,
    backend,
    curl,
    async powerOff(which) {
      await node[which].stop();
    },
    async powerOn(which) {
      node[which] = await boot(which, false);
    },
    async haStatus(which) {
      return node[which].lbcliJson<HaStatus>('ha-status', ['--local']);
    },
    async holds(which, ip) {
      const addresses = await node[which].vm.console.check('ip -4 -o addr show');
      return addresses.split('\n').some((line) => line.includes(` ${ip}/`));
    },
    async close() {
      await Promise.all([node.master.stop(), node.slave.stop(), backend.stop()]);
      await network.remove();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Failover {
  /** From the cause (e.g. the kill) to the first good answer through the VIP. */
  seconds: number;
  /** Requests that failed meanwhile: one is sent every 100 ms, each given 1 s. */
  failedRequests: number;
}

const POLL_INTERVAL_MS = 100;

/**
 * Runs `cause` (e.g. powering off the active node) while the client sends a request to
 * `url` every 100 ms, not waiting for the ones still open (a request to a node that is
 * gone hangs until its 1 s timeout); resolves once the VIP answers again (from the
 * other node), with the time from the cause to that answer.
 */
export async function failOver(lab: HaLab, url: string, answers: RegExp, cause: () => Promise<void>): Promise<Failover> {
  const started = Date.now();
  await cause();
  let failedRequests = 0;
  let answeredAt: number | undefined;
  const requests: Promise<void>[] = [];
  while (answeredAt === undefined) {
    if (Date.now() - started > 120_000) throw new Error(`${url} did not answer within 120 s`);
    requests.push(lab.curl(url, ['--max-time', '1']).then((result) => {
      if (result.exitCode === 0 && answers.test(result.stdout)) answeredAt ??= Date.now();
      else failedRequests++;
    }));
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  await Promise.all(requests);
  return { seconds: (answeredAt - started) / 1000, failedRequests };
}

export const VIP_URL = `http://${LAYER7.ip}/`;
export const REAL_SERVER_ANSWER = /^rip[12]$/;

/** The layer 7 VIP of the services test, with rip1 and rip2, added through `node`'s lbcli. */
export async function addLayer7VipOn(lab: HaLab, node: Node): Promise<void> {
  const lb = lab.node[node];
  await lb.lbcliJson('add-vip', ['--layer', '7', '--vip', LAYER7.label, '--ip', LAYER7.ip, '--ports', '80', '--mode', 'http']);
  for (const [rip, name] of LAYER7.rips) await lb.lbcliJson('add-rip', ['--vip', LAYER7.label, '--rip', rip, '--ip', server(name).ip, '--port', '80']);
}

/** Waits until the VIP answers the client from a real server; returns the answer. */
export async function vipAnswers(lab: HaLab, timeoutMs = 60_000): Promise<string> {
  const { value } = await waitFor('the VIP answering', async () => {
    const result = await lab.curl(VIP_URL);
    return result.exitCode === 0 && REAL_SERVER_ANSWER.test(result.stdout) ? result.stdout : undefined;
  }, timeoutMs);
  return value;
}

/** The part of ha-status the guide's status bar shows, e.g. "master/active/link up". */
export const bar = ({ role, state, link }: HaStatus) => `${role}/${state}/link ${link}`;

export async function waitForBars(lab: HaLab, expected: Record<Node, string>, timeoutMs = 120_000): Promise<void> {
  await waitFor(`status bars ${JSON.stringify(expected)}`, async () => {
    const shown = { master: bar(await lab.haStatus('master')), slave: bar(await lab.haStatus('slave')) };
    return shown.master === expected.master && shown.slave === expected.slave ? true : undefined;
  }, timeoutMs);
}
