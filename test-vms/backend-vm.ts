/**
 * The real servers: one VM of the built image with four NICs, each moved into a network
 * namespace of its own inside the guest, where a tiny HTTP responder (HAProxy answering
 * with the server's name) listens on port 80. rip1 and rip2 sit on "front" and are
 * configured for DR mode as the guide's "Method 2" says (the DR VIPs on lo, arp_ignore=1
 * and arp_announce=2); nat1 and nat2 sit on "back" with their default route via the
 * load balancer's floating IP.
 */
import { bootVm, type RunningVm } from '../builder/vm/qemu.js';
import { BOOT_TIMEOUT_MS } from './checks.js';
import type { Bridge, L2Network } from './l2-network.js';
import { shellQuote } from './shell-quote.js';

export interface RealServer {
  /** The namespace in the guest, and what its responder answers. */
  name: 'rip1' | 'rip2' | 'nat1' | 'nat2';
  bridge: Bridge;
  ip: string;
  prefix: number;
  /** Default route, for servers behind a NAT VIP. */
  gateway?: string;
}

export const NAT_GATEWAY = '10.1.0.1';

/**
 * In NIC order. The image gives eth0 (the first NIC) 192.168.2.21/24 at boot, the load
 * balancer's address: that NIC is on "back", where the address meets nobody, until it
 * moves into its namespace and loses it.
 */
export const REAL_SERVERS: readonly RealServer[] = [
  { name: 'nat1', bridge: 'back', ip: '10.1.0.11', prefix: 24, gateway: NAT_GATEWAY },
  { name: 'nat2', bridge: 'back', ip: '10.1.0.12', prefix: 24, gateway: NAT_GATEWAY },
  { name: 'rip1', bridge: 'front', ip: '192.168.2.31', prefix: 24 },
  { name: 'rip2', bridge: 'front', ip: '192.168.2.32', prefix: 24 },
];

export type ServerName = RealServer['name'];

export const server = (name: ServerName): RealServer => REAL_SERVERS.find((s) => s.name === name)!;

export interface BackendVm {
  vm: RunningVm;
  /** Stops a responder: its port is closed (connections refused) until startResponder. */
  stopResponder(name: ServerName): Promise<void>;
  startResponder(name: ServerName): Promise<void>;
  stop(): Promise<void>;
}

export interface BackendOptions {
  image: string;
  network: L2Network;
  /** The DR-mode VIPs rip1 and rip2 accept traffic for. */
  drVips: string[];
}

const RUN_DIR = '/run/lbtest';

/** Boots the backend VM and brings up its four real servers; resolves once each answers locally. */
export async function bootBackend(options: BackendOptions): Promise<BackendVm> {
  const devices: string[] = [];
  for (const s of REAL_SERVERS) devices.push(await options.network.addTap(s.bridge, `be-${s.name}`));
  const vm = await bootVm({ image: options.image, taps: { namespace: options.network.namespace, devices }, macByte: 0x35 });
  const c = vm.console;
  try {
    await c.expect(/login: $/m, BOOT_TIMEOUT_MS);
    await c.login('root', 'loadbalancer');
    await c.prepareShell();
    await c.check(`mkdir -p ${RUN_DIR}`);
    for (const [n, s] of REAL_SERVERS.entries()) await configureNamespace(vm, s, `eth${n}`, options.drVips);
    for (const s of REAL_SERVERS) await startResponder(vm, s.name);
  } catch (error) {
    await vm.stop();
    throw error;
  }
  return {
    vm,
    stopResponder: (name) => stopResponder(vm, name),
    startResponder: (name) => startResponder(vm, name),
    stop: () => vm.stop(),
  };
}

async function configureNamespace(vm: RunningVm, s: RealServer, nic: string, drVips: string[]): Promise<void> {
  const c = vm.console;
  const ns = s.name;
  await c.check(`ip netns add ${ns} && ip link set ${nic} netns ${ns} && ip -n ${ns} link set lo up`);
  if (s.bridge === 'front') {
    // Method 2: answer ARP only for addresses of the receiving interface (never for a VIP on
    // lo) and announce from the best local address; set before the link is up.
    const sysctls = ['all', nic].flatMap((dev) => [`net.ipv4.conf.${dev}.arp_ignore=1`, `net.ipv4.conf.${dev}.arp_announce=2`]);
    await c.check(`ip netns exec ${ns} sysctl -q -w ${sysctls.join(' ')}`);
    for (const vip of drVips) await c.check(`ip -n ${ns} addr add ${vip}/32 dev lo`);
  }
  await c.check(`ip -n ${ns} addr add ${s.ip}/${s.prefix} dev ${nic} && ip -n ${ns} link set ${nic} up`);
  if (s.gateway) await c.check(`ip -n ${ns} route add default via ${s.gateway}`);
}

/** HAProxy answering every request on port 80, on every address of the namespace, with the server's name. */
function responderConfig(name: ServerName): string[] {
  return [
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    `frontend ${name}`,
    '  bind :80',
    `  http-request return status 200 content-type text/plain string ${name}`,
  ];
}

async function startResponder(vm: RunningVm, name: ServerName): Promise<void> {
  const c = vm.console;
  const config = `${RUN_DIR}/${name}.cfg`;
  await c.check(`printf '%s\\n' ${responderConfig(name).map(shellQuote).join(' ')} > ${config}`);
  await c.check(`ip netns exec ${name} haproxy -D -f ${config} -p ${RUN_DIR}/${name}.pid`);
  const answer = await c.check(`ip netns exec ${name} bash -c 'exec 3<>/dev/tcp/127.0.0.1/80; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; tail -n 1 <&3; echo'`);
  if (answer !== name) throw new Error(`the ${name} responder answered "${answer}"`);
}

async function stopResponder(vm: RunningVm, name: ServerName): Promise<void> {
  const pidFile = `${RUN_DIR}/${name}.pid`;
  await vm.console.check(`pid=$(cat ${pidFile}) && kill "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; rm -f ${pidFile}`);
}
