/**
 * The virtual services checks of issue 10, run in order on one services lab: traffic
 * from the client through each kind of VIP to the real servers, the RIP states as
 * lbcli's status and the WUI overview show them, refused input, and a reboot.
 */
import assert from 'node:assert/strict';
import { REAL_SERVERS, server, type ServerName } from './backend-vm.js';
import { LB_ADDRESS } from './lb-vm.js';
import { WUI_CREDENTIALS, WUI_OVERVIEW, type ServicesLab } from './services-lab.js';
import {
  addDrVip, addLayer7Vip, addNatVip, addSslTerminations, allUp, DR, LAYER7, NAT, POUND, STUNNEL, waitFor, waitForSslUp, waitForVip,
  type RipHealth, type VipState,
} from './services-setup.js';

export interface ServiceCheck {
  name: string;
  run(lab: ServicesLab, note: (line: string) => void): Promise<void>;
}

const url = (ip: string, scheme = 'http') => `${scheme}://${ip}/`;
/** The overview asks lbcli and systemd for every state: seconds under TCG. */
const WUI_WAIT = ['--max-time', '60'];

async function answers(lab: ServicesLab, target: string, count: number, extra: string[] = []): Promise<string[]> {
  const seen: string[] = [];
  for (let n = 0; n < count; n++) seen.push(await lab.get(target, extra));
  return seen;
}

/** Sequential requests to a round-robin pair land on each in turn. */
async function expectAlternating(lab: ServicesLab, target: string, names: ServerName[], extra: string[] = []): Promise<void> {
  const seen = await answers(lab, target, 6, extra);
  for (const answer of seen) assert.ok(names.includes(answer as ServerName), `${target} answered ${answer}, not one of ${names}: ${seen}`);
  for (let n = 1; n < seen.length; n++) assert.notEqual(seen[n], seen[n - 1], `${target}: requests alternate, got ${seen}`);
}

async function expectReachesBoth(lab: ServicesLab, target: string, names: ServerName[], extra: string[] = []): Promise<string[]> {
  const seen = await answers(lab, target, 10, extra);
  assert.deepEqual([...new Set(seen)].sort(), [...names].sort(), `${target} reaches both real servers: ${seen}`);
  return seen;
}

interface Overview {
  vips: Record<string, string | undefined>;
  rips: Record<string, string | undefined>;
}

/** The System Overview's <table id="virtual-services">: each VIP's data-state, each RIP's data-health. */
async function overview(lab: ServicesLab): Promise<Overview> {
  const page = await lab.get(WUI_OVERVIEW, [...WUI_WAIT, '-u', WUI_CREDENTIALS]);
  const table = /<table\b[^>]*\bid="virtual-services"[^>]*>([\s\S]*?)<\/table>/.exec(page);
  assert.ok(table, `the overview has <table id="virtual-services">:\n${page}`);
  const shown: Overview = { vips: {}, rips: {} };
  for (const [, attributes] of table[1]!.matchAll(/<tr\b([^>]*)>/g)) {
    const a = Object.fromEntries([...attributes!.matchAll(/([\w-]+)="([^"]*)"/g)].map(([, k, v]) => [k!, v!]));
    const classes = (a.class ?? '').split(/\s+/);
    if (classes.includes('vip')) shown.vips[a['data-vip']!] = a['data-state'];
    if (classes.includes('rip')) shown.rips[`${a['data-vip']}/${a['data-rip']}`] = a['data-health'];
  }
  return shown;
}

/** Waits until lbcli's status shows the VIP and RIP states, then expects the overview to show the same. */
async function expectShown(lab: ServicesLab, vip: string, state: VipState, rips: Record<string, RipHealth>): Promise<number> {
  const seconds = await waitForVip(lab, vip, state, rips);
  const shown = await overview(lab);
  assert.equal(shown.vips[vip], state, `the overview shows ${vip} ${state}: ${JSON.stringify(shown)}`);
  for (const [rip, health] of Object.entries(rips)) {
    assert.equal(shown.rips[`${vip}/${rip}`], health, `the overview shows ${vip}/${rip} ${health}: ${JSON.stringify(shown)}`);
  }
  return seconds;
}

/** Connections per real server of one IPVS virtual service, from `ipvsadm -Ln --stats`. */
async function ipvsConnections(lab: ServicesLab, vip: string): Promise<Record<string, number>> {
  const table = await lab.lb.vm.console.check('ipvsadm -Ln --stats');
  const connections: Record<string, number> = {};
  let current = '';
  for (const line of table.split('\n')) {
    const service = /^(TCP|UDP)\s+(\S+)/.exec(line);
    if (service) current = service[2]!;
    const real = /^\s+->\s+(\d+\.\d+\.\d+\.\d+):\d+\s+(\d+)/.exec(line);
    if (real && current === `${vip}:80`) connections[real[1]!] = Number(real[2]);
  }
  return connections;
}

/** IPVS adds up its per-CPU counters every few seconds: polls until every request is counted. */
async function expectIpvsCounted(lab: ServicesLab, vip: string, names: ServerName[], requests: number): Promise<void> {
  const { value: connections } = await waitFor(`ipvsadm counting the ${requests} requests to ${vip}`, async () => {
    const counted = await ipvsConnections(lab, vip);
    return Object.values(counted).reduce((a, b) => a + b, 0) >= requests ? counted : undefined;
  }, 20_000);
  for (const name of names) assert.ok((connections[server(name).ip] ?? 0) > 0, `ipvsadm counts connections to ${name} (${server(name).ip}): ${JSON.stringify(connections)}`);
}

const L7_NAMES: ServerName[] = ['rip1', 'rip2'];

interface BadInput {
  what: string;
  action: string;
  args: string[];
  /** The message names this. */
  names: RegExp;
}

const BAD_INPUT: BadInput[] = [
  {
    what: 'a VIP on an interface address',
    action: 'add-vip',
    args: ['--layer', '7', '--vip', 'ONIF', '--ip', LB_ADDRESS, '--ports', '8080', '--mode', 'http'],
    names: /--ip/,
  },
  { what: 'a duplicate label', action: 'add-vip', args: ['--layer', '7', '--vip', LAYER7.label, '--ip', '192.168.2.55', '--ports', '80', '--mode', 'http'], names: /VIP1/ },
  { what: 'a bad address', action: 'add-vip', args: ['--layer', '7', '--vip', 'BADIP', '--ip', '192.168.2.300', '--ports', '80', '--mode', 'http'], names: /--ip/ },
  { what: 'a bad port', action: 'add-vip', args: ['--layer', '7', '--vip', 'BADPORT', '--ip', '192.168.2.56', '--ports', '70000', '--mode', 'http'], names: /--ports/ },
  { what: 'a RIP port in DR mode', action: 'add-rip', args: ['--vip', DR.label, '--rip', 'D3', '--ip', '192.168.2.33', '--port', '8080'], names: /--port/ },
  { what: 'an unknown VIP', action: 'add-rip', args: ['--vip', 'NOSUCHVIP', '--rip', 'R1', '--ip', '192.168.2.33', '--port', '80'], names: /NOSUCHVIP/ },
];

export const serviceChecks: ServiceCheck[] = [
  {
    name: 'the client reaches each real server and the WUI directly; no real server answers ARP for the DR VIP',
    async run(lab) {
      for (const s of REAL_SERVERS) assert.equal(await lab.get(url(s.ip)), s.name, `${s.ip} answers ${s.name}`);
      const code = (extra: string[]) => lab.curl(WUI_OVERVIEW, [...WUI_WAIT, '-o', '/dev/null', '-w', '%{http_code}', ...extra]);
      assert.equal((await code([])).stdout, '401', 'the WUI without credentials');
      assert.equal((await code(['-u', WUI_CREDENTIALS])).stdout, '200', 'the WUI with its credentials');
      // rip1 and rip2 carry the DR VIP on lo; until the load balancer has it, nobody answers for it.
      const unclaimed = await lab.curl(url(DR.ip), ['--max-time', '4']);
      assert.notEqual(unclaimed.exitCode, 0, `${DR.ip} answered before any VIP had it: ${unclaimed.stdout}`);
    },
  },
  {
    name: 'layer 7: a VIP with RIP1 and RIP2; requests alternate; status and overview show it healthy',
    async run(lab) {
      await addLayer7Vip(lab);
      await expectAlternating(lab, url(LAYER7.ip), L7_NAMES);
      await expectShown(lab, LAYER7.label, 'healthy', allUp(LAYER7.rips));
    },
  },
  {
    name: 'layer 7: a halted RIP gets no requests, the other all; back online, they alternate again',
    async run(lab) {
      await lab.lb.lbcliJson('halt', ['--vip', LAYER7.label, '--rip', 'RIP1']);
      await expectShown(lab, LAYER7.label, 'healthy', { RIP1: 'halted', RIP2: 'up' });
      assert.deepEqual(new Set(await answers(lab, url(LAYER7.ip), 6)), new Set(['rip2']));
      await lab.lb.lbcliJson('online', ['--vip', LAYER7.label, '--rip', 'RIP1']);
      await expectShown(lab, LAYER7.label, 'healthy', allUp(LAYER7.rips));
      await expectAlternating(lab, url(LAYER7.ip), L7_NAMES);
    },
  },
  {
    name: 'layer 7: a RIP whose responder stops leaves the pool (needs-attention) and comes back when it answers again',
    async run(lab, note) {
      await lab.backend.stopResponder('rip1');
      const leftAfter = await expectShown(lab, LAYER7.label, 'needs-attention', { RIP1: 'down', RIP2: 'up' });
      note(`rip1 stopped answering: status showed RIP1 down after ${leftAfter.toFixed(1)} s`);
      assert.deepEqual(new Set(await answers(lab, url(LAYER7.ip), 6)), new Set(['rip2']));
      await lab.backend.startResponder('rip1');
      const backAfter = await expectShown(lab, LAYER7.label, 'healthy', allUp(LAYER7.rips));
      note(`rip1 answered again: status showed RIP1 up after ${backAfter.toFixed(1)} s`);
      await expectAlternating(lab, url(LAYER7.ip), L7_NAMES);
    },
  },
  {
    name: 'layer 7: with no RIP answering the VIP is all-down; with every RIP halted it is offline',
    async run(lab) {
      for (const name of L7_NAMES) await lab.backend.stopResponder(name);
      await expectShown(lab, LAYER7.label, 'all-down', { RIP1: 'down', RIP2: 'down' });
      assert.notEqual((await lab.curl(url(LAYER7.ip), ['-f'])).exitCode, 0, 'an all-down VIP serves nothing');
      for (const name of L7_NAMES) await lab.backend.startResponder(name);
      await expectShown(lab, LAYER7.label, 'healthy', allUp(LAYER7.rips));
      for (const [rip] of LAYER7.rips) await lab.lb.lbcliJson('halt', ['--vip', LAYER7.label, '--rip', rip]);
      await expectShown(lab, LAYER7.label, 'offline', { RIP1: 'halted', RIP2: 'halted' });
      for (const [rip] of LAYER7.rips) await lab.lb.lbcliJson('online', ['--vip', LAYER7.label, '--rip', rip]);
      await expectShown(lab, LAYER7.label, 'healthy', allUp(LAYER7.rips));
      await expectAlternating(lab, url(LAYER7.ip), L7_NAMES);
    },
  },
  {
    name: 'layer 4 NAT: through the floating IP on eth1, both RIPs answer; ipvsadm counts both',
    async run(lab) {
      await addNatVip(lab);
      const seen = await expectReachesBoth(lab, url(NAT.ip), ['nat1', 'nat2']);
      await expectIpvsCounted(lab, NAT.ip, ['nat1', 'nat2'], seen.length);
    },
  },
  {
    name: 'layer 4 DR: rip1 and rip2 answer for the VIP on their lo; ipvsadm counts both',
    async run(lab) {
      await addDrVip(lab);
      const seen = await expectReachesBoth(lab, url(DR.ip), L7_NAMES);
      await expectIpvsCounted(lab, DR.ip, L7_NAMES, seen.length);
    },
  },
  {
    name: 'SSL: HTTPS to an STunnel and to a Pound termination reaches the layer 7 VIP and both its RIPs',
    async run(lab) {
      await addSslTerminations(lab);
      for (const ssl of [STUNNEL, POUND]) await expectReachesBoth(lab, url(ssl.ip, 'https'), L7_NAMES, ['-k']);
    },
  },
  ...BAD_INPUT.map(
    (bad): ServiceCheck => ({
      name: `bad input, ${bad.what}: exit 2 with a message naming it; the running configuration is unchanged and serving`,
      async run(lab) {
        const before = await lab.lb.lbcliJson('list');
        const refused = await lab.lb.lbcli(bad.action, bad.args);
        assert.equal(refused.status, 2, `lbcli --action ${bad.action} ${bad.args.join(' ')}: ${refused.stderr}`);
        assert.match(refused.stderr, /^lbcli: /, 'a one-line reason on stderr');
        assert.match(refused.stderr, bad.names);
        assert.deepEqual(await lab.lb.lbcliJson('list'), before);
        assert.ok(L7_NAMES.includes((await lab.get(url(LAYER7.ip))) as ServerName), 'the layer 7 VIP still serves');
      },
    }),
  ),
  {
    name: 'the configuration survives a reboot of the load balancer, and every VIP serves again',
    async run(lab, note) {
      const before = await lab.lb.lbcliJson('list');
      const started = Date.now();
      await lab.lb.reboot();
      note(`reboot to a root shell: ${Math.round((Date.now() - started) / 1000)} s`);
      assert.deepEqual(await lab.lb.lbcliJson('list'), before);
      for (const vip of [LAYER7, NAT, DR]) await waitForVip(lab, vip.label, 'healthy', allUp(vip.rips));
      await expectAlternating(lab, url(LAYER7.ip), L7_NAMES);
      await expectReachesBoth(lab, url(NAT.ip), ['nat1', 'nat2']);
      await expectReachesBoth(lab, url(DR.ip), L7_NAMES);
      await waitForSslUp(lab);
      for (const ssl of [STUNNEL, POUND]) await expectReachesBoth(lab, url(ssl.ip, 'https'), L7_NAMES, ['-k']);
    },
  },
];
