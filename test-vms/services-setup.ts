/**
 * The virtual services the services test and benchmark configure with lbcli, and how
 * they wait for the load balancer's view of them (`lbcli --action status --json`).
 */
import { NAT_GATEWAY, server } from './backend-vm.js';
import type { ServicesLab } from './services-lab.js';

export const LAYER7 = { label: 'VIP1', ip: '192.168.2.50', rips: [['RIP1', 'rip1'], ['RIP2', 'rip2']] } as const;
export const NAT = { label: 'L4NAT', ip: '192.168.2.61', rips: [['N1', 'nat1'], ['N2', 'nat2']] } as const;
export const DR = { label: 'L4DR', ip: '192.168.2.62', rips: [['D1', 'rip1'], ['D2', 'rip2']] } as const;
export const STUNNEL = { label: 'SSL1', ip: '192.168.2.70', engine: 'stunnel' } as const;
export const POUND = { label: 'SSL2', ip: '192.168.2.71', engine: 'pound' } as const;
/** The floating IP on eth1 the NAT real servers route through. */
export const FLOATING_IP = `${NAT_GATEWAY}/24`;

export type VipState = 'healthy' | 'needs-attention' | 'all-down' | 'offline';
export type RipHealth = 'up' | 'down' | 'halted' | 'drained';

export interface Status {
  vips: Array<{ label: string; state: VipState; rips: Array<{ label: string; health: RipHealth; connections: number }> }>;
  ssl: Array<{ label: string; health: 'up' | 'down' }>;
}

export async function addLayer7Vip(lab: ServicesLab): Promise<void> {
  await lab.lb.lbcliJson('add-vip', ['--layer', '7', '--vip', LAYER7.label, '--ip', LAYER7.ip, '--ports', '80', '--mode', 'http']);
  for (const [rip, name] of LAYER7.rips) {
    await lab.lb.lbcliJson('add-rip', ['--vip', LAYER7.label, '--rip', rip, '--ip', server(name).ip, '--port', '80']);
  }
  await waitForVip(lab, LAYER7.label, 'healthy', allUp(LAYER7.rips));
}

export async function addNatVip(lab: ServicesLab): Promise<void> {
  await lab.lb.lbcliJson('add-floating-ip', ['--ip', FLOATING_IP, '--interface', 'eth1']);
  await lab.lb.lbcliJson('add-vip', ['--layer', '4', '--vip', NAT.label, '--ip', NAT.ip, '--ports', '80', '--protocol', 'tcp', '--forwarding', 'nat']);
  for (const [rip, name] of NAT.rips) {
    await lab.lb.lbcliJson('add-rip', ['--vip', NAT.label, '--rip', rip, '--ip', server(name).ip, '--port', '80']);
  }
  await waitForVip(lab, NAT.label, 'healthy', allUp(NAT.rips));
}

export async function addDrVip(lab: ServicesLab): Promise<void> {
  await lab.lb.lbcliJson('add-vip', ['--layer', '4', '--vip', DR.label, '--ip', DR.ip, '--ports', '80', '--protocol', 'tcp', '--forwarding', 'dr']);
  // DR keeps the destination port: a real server has none of its own.
  for (const [rip, name] of DR.rips) await lab.lb.lbcliJson('add-rip', ['--vip', DR.label, '--rip', rip, '--ip', server(name).ip]);
  await waitForVip(lab, DR.label, 'healthy', allUp(DR.rips));
}

/** STunnel and Pound terminating HTTPS on port 443 in front of the layer 7 VIP. */
export async function addSslTerminations(lab: ServicesLab): Promise<void> {
  for (const ssl of [STUNNEL, POUND]) {
    await lab.lb.lbcliJson('add-ssl-termination', ['--vip', ssl.label, '--ip', ssl.ip, '--port', '443', '--backend-vip', LAYER7.label, '--engine', ssl.engine]);
  }
  await waitForSslUp(lab);
}

export async function waitForSslUp(lab: ServicesLab): Promise<void> {
  await waitFor('both SSL terminations up', async () => {
    const { ssl } = await status(lab);
    return [STUNNEL, POUND].every((t) => ssl.find((s) => s.label === t.label)?.health === 'up') || undefined;
  });
}

/** Every RIP of a VIP, with health up. */
export const allUp = (rips: ReadonlyArray<readonly [string, string]>): Record<string, RipHealth> =>
  Object.fromEntries(rips.map(([rip]) => [rip, 'up']));

export const status = (lab: ServicesLab) => lab.lb.lbcliJson<Status>('status');

/** Polls `probe` every half second until it returns a value; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<{ value: T; seconds: number }> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return { value, seconds: (Date.now() - started) / 1000 };
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Waits until the VIP has `state` and each RIP named in `rips` that health; returns the seconds it took. */
export async function waitForVip(lab: ServicesLab, label: string, state: VipState, rips: Record<string, RipHealth> = {}): Promise<number> {
  const { seconds } = await waitFor(`${label} ${state} ${JSON.stringify(rips)}`, async () => {
    const vip = (await status(lab)).vips.find((v) => v.label === label);
    const ripsMatch = Object.entries(rips).every(([rip, health]) => vip?.rips.find((r) => r.label === rip)?.health === health);
    return vip?.state === state && ripsMatch ? true : undefined;
  });
  return seconds;
}
