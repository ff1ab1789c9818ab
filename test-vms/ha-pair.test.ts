/**
 * Issue 11's clustered pair: master, slave and a backend VM of real servers on a
 * layer-2 network in the test's own namespace, booted once and shared by the checks,
 * which run in order: pairing (refused with a wrong password), a VIP added on the slave
 * served through the master, heartbeat over the serial cable alone, failover when the
 * master is powered off and its return, and lbsecure on the pair.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImage, TEST_CACHE } from './build-helpers.js';
import {
  addLayer7VipOn, bar, failOver, MASTER_ADDRESS, REAL_SERVER_ANSWER, SLAVE_ADDRESS, startHaLab, VIP_URL, vipAnswers, waitForBars, type HaLab, type Node,
} from './ha-lab.js';
import { LAYER7, waitFor } from './services-setup.js';
import { shellQuote } from './shell-quote.js';

const WUI = (address: string) => `http://${address}:9080/lbadmin/`;
const NEW_PASSWORDS = { root: 'Root-pair-2026', loadbalancer: 'Wui-pair-2026', setup: 'Setup-pair-2026' };

async function holders(lab: HaLab, ip: string): Promise<Node[]> {
  const nodes: Node[] = [];
  for (const node of ['master', 'slave'] as const) if (await lab.holds(node, ip)) nodes.push(node);
  return nodes;
}

/** Whether root's password on the node is still `password` (Perl reads the shadow hash as root). */
async function rootPasswordIs(lab: HaLab, node: Node, password: string): Promise<boolean> {
  const script = `my $h = (getpwnam("root"))[1]; print crypt(${JSON.stringify(password)}, $h) eq $h ? "same" : "changed"`;
  return (await lab.node[node].vm.console.check(`perl -e ${shellQuote(script)}`)) === 'same';
}

const hostKey = (lab: HaLab, node: Node) => lab.node[node].vm.console.check('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');

describe('the clustered pair: heartbeat, floating IPs, sync and failover', () => {
  let out: string;
  let lab: HaLab;
  before(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'lbbuild-ha-'));
    // The audit is appliance.test.ts's; without it the build waits for nothing past the disk.
    const image = await buildImage(['--target', 'raw', '--no-audit', '--out', out, '--cache', TEST_CACHE]);
    lab = await startHaLab(image.artifacts.find((a) => a.file.endsWith('.raw'))!.file);
  });
  after(async () => {
    await lab?.close();
    await rm(out, { recursive: true, force: true });
  });

  test('pairing with a wrong peer password is refused and changes neither node', async () => {
    const refused = await lab.node.master.lbcli('ha-pair', ['--peer-ip', SLAVE_ADDRESS, '--peer-password', 'not-the-password']);
    assert.equal(refused.status, 2, `exit 2: ${refused.stderr}`);
    assert.match(refused.stderr, /password/i);
    for (const node of ['master', 'slave'] as const) {
      assert.equal((await lab.haStatus(node)).role, 'none', `${node} is still unpaired`);
      assert.equal(await lab.node[node].vm.console.check('hostname'), 'lbmaster');
    }
  });

  test('the master pairs with the slave: heartbeat over eth0 and the serial cable, the slave renamed lbslave', async () => {
    const paired = await lab.node.master.lbcli('ha-pair', ['--peer-ip', SLAVE_ADDRESS, '--peer-password', 'loadbalancer', '--heartbeat', 'both', '--serial-port', '/dev/ttyS1']);
    assert.equal(paired.status, 0, paired.stderr);
    assert.equal(await lab.node.slave.vm.console.check('hostname'), 'lbslave');
    await waitForBars(lab, { master: 'master/active/link up', slave: 'slave/passive/link up' });
    const status = await lab.haStatus('master');
    assert.deepEqual({ name: status.peer?.name, address: status.peer?.address }, { name: 'lbslave', address: SLAVE_ADDRESS });
    assert.equal(status.warning, null);
  });

  test('a layer 7 VIP added on the slave reaches the master, which holds its floating IP and serves it', async () => {
    await addLayer7VipOn(lab, 'slave');
    const { seconds } = await waitFor('the VIP on the master', async () => {
      const list = await lab.node.master.lbcliJson<{ vips: Array<{ label: string; rips: unknown[] }> }>('list');
      return list.vips.find((v) => v.label === LAYER7.label)?.rips.length === 2 ? true : undefined;
    }, 60_000);
    assert.ok(seconds < 30, `synced within seconds (${seconds} s)`);
    await waitFor('the floating IP on the master alone', async () => ((await holders(lab, LAYER7.ip)).join() === 'master' ? true : undefined), 60_000);
    assert.match(await vipAnswers(lab), REAL_SERVER_ANSWER);
    const rendered = (node: Node) => lab.node[node].vm.console.check('sha256sum < /etc/haproxy/haproxy.cfg');
    assert.equal(await rendered('slave'), await rendered('master'), 'both nodes render the same HAProxy configuration');
  });

  test('with the ucast heartbeat blocked on the network, the pair still sees its peer over the serial cable', async () => {
    // A filter on the namespace's bridges drops heartbeat's UDP between the nodes.
    const nft = (args: string[]) => lab.network.exec('nft', args);
    for (const command of [
      ['add', 'table', 'bridge', 'lbtest'],
      ['add', 'chain', 'bridge', 'lbtest', 'forward', '{ type filter hook forward priority 0 ; }'],
      ['add', 'rule', 'bridge', 'lbtest', 'forward', 'udp', 'dport', '694', 'drop'],
    ]) {
      const result = await nft(command);
      assert.equal(result.exitCode, 0, `nft ${command.join(' ')}: ${result.stderr}`);
    }
    try {
      // cl_status prints the link's state (and exits 1 while it is dead)
      const link = async (node: Node, peer: string, medium: string) =>
        (await lab.node[node].vm.console.run(`cl_status hblinkstatus ${peer} ${medium}`)).output.trim();
      await waitFor('eth0 heartbeat seen dead', async () => ((await link('master', 'lbslave', 'eth0')) === 'dead' ? true : undefined), 60_000);
      assert.equal(await link('master', 'lbslave', '/dev/ttyS1'), 'up', 'the serial link is up on the master');
      assert.equal(await link('slave', 'lbmaster', '/dev/ttyS1'), 'up', 'the serial link is up on the slave');
      assert.equal(bar(await lab.haStatus('master')), 'master/active/link up');
      assert.equal(bar(await lab.haStatus('slave')), 'slave/passive/link up');
      assert.deepEqual(await holders(lab, LAYER7.ip), ['master'], 'no split brain: the master alone holds the floating IP');
    } finally {
      await nft(['delete', 'table', 'bridge', 'lbtest']);
    }
  });

  test('the master powered off: the slave takes the floating IP and the VIP answers again', async (t) => {
    const failover = await failOver(lab, VIP_URL, REAL_SERVER_ANSWER, () => lab.powerOff('master'));
    t.diagnostic(`failover: the VIP answered from the slave ${failover.seconds.toFixed(1)} s after the master was powered off (${failover.failedRequests} failed requests of one every 100 ms)`);
    // Where the failover went, on the slave's clock: the peer declared dead, heartbeat's
    // own steps until it runs rc.d/status, then the takeover's.
    const takeover = await lab.node.slave.vm.console.run('journalctl -b -o short-monotonic --no-pager -t heartbeat -t lb-floating-ips | tail -n 12');
    for (const line of takeover.output.trim().split('\n')) t.diagnostic(`slave: ${line}`);
    assert.ok(await lab.holds('slave', LAYER7.ip), 'the slave holds the floating IP');
    const status = await lab.haStatus('slave');
    assert.equal(bar(status), 'slave/active/link down');
    assert.equal(status.warning?.code, 'both-active', 'the guide: the link is down, so the floating IPs may be active on both');
  });

  test('the master back: exactly one node holds the floating IP, each status as the guide says, the VIP answers', async () => {
    await lab.powerOn('master');
    // auto_failback off: the slave keeps the services, the master comes back passive.
    await waitForBars(lab, { master: 'master/passive/link up', slave: 'slave/active/link up' }, 180_000);
    assert.deepEqual(await holders(lab, LAYER7.ip), ['slave']);
    assert.equal((await lab.haStatus('master')).warning, null);
    for (const [node, address, expected] of [['master', MASTER_ADDRESS, 'master/passive/up'], ['slave', SLAVE_ADDRESS, 'slave/active/up']] as const) {
      const page = await lab.curl(WUI(address), ['-f', '-u', 'loadbalancer:loadbalancer', '--max-time', '60']);
      const tag = /<div id="ha-status"([^>]*)>/.exec(page.stdout);
      assert.ok(tag, `${node}'s WUI shows the HA status bar: ${page.stderr}`);
      const data = Object.fromEntries([...tag[1]!.matchAll(/data-([\w-]+)="([^"]*)"/g)].map(([, k, v]) => [k!, v!]));
      assert.equal(`${data.role}/${data.state}/${data.link}`, expected, `${node}'s WUI status bar`);
    }
    const result = await lab.curl(VIP_URL);
    assert.match(result.stdout, REAL_SERVER_ANSWER, result.stderr);
  });

  test('lbsecure on the master: old passwords fail on both nodes, new host keys on both, and a failover still works', async (t) => {
    const keysBefore = { master: await hostKey(lab, 'master'), slave: await hostKey(lab, 'slave') };
    const passwords = Object.entries(NEW_PASSWORDS).map(([user, password]) => `${user}:${password}`).join('\\n');
    await lab.node.master.vm.console.check(`printf '${passwords}\\n' | lbsecure --non-interactive --allow-from 192.168.2.0/24`, 300_000);
    for (const node of ['master', 'slave'] as const) {
      const address = node === 'master' ? MASTER_ADDRESS : SLAVE_ADDRESS;
      const old = await lab.curl(WUI(address), ['-o', '/dev/null', '-w', '%{http_code}', '-u', 'loadbalancer:loadbalancer', '--max-time', '60']);
      assert.equal(old.stdout, '401', `${node}: the old WUI password fails`);
      const fresh = await lab.curl(WUI(address), ['-o', '/dev/null', '-w', '%{http_code}', '-u', `loadbalancer:${NEW_PASSWORDS.loadbalancer}`, '--max-time', '60']);
      assert.equal(fresh.stdout, '200', `${node}: the new WUI password works`);
      assert.equal(await rootPasswordIs(lab, node, 'loadbalancer'), false, `${node}: root's old password fails`);
      assert.equal(await rootPasswordIs(lab, node, NEW_PASSWORDS.root), true, `${node}: root's new password is set`);
      assert.notEqual(await hostKey(lab, node), keysBefore[node], `${node}: a new SSH host key`);
    }
    assert.notEqual(await hostKey(lab, 'master'), await hostKey(lab, 'slave'), 'each node has its own host key');
    // The pair still talks: sync and heartbeat, then a failover from the slave back to the master.
    await lab.node.master.lbcliJson('halt', ['--vip', LAYER7.label, '--rip', 'RIP2']);
    await waitFor('the halt synced to the slave', async () => {
      const list = await lab.node.slave.lbcliJson<{ vips: Array<{ label: string; rips: Array<{ label: string; state: string }> }> }>('list');
      return list.vips.find((v) => v.label === LAYER7.label)?.rips.find((r) => r.label === 'RIP2')?.state === 'halted' ? true : undefined;
    }, 60_000);
    await waitForBars(lab, { master: 'master/passive/link up', slave: 'slave/active/link up' });
    const failover = await failOver(lab, VIP_URL, /^rip1$/, () => lab.powerOff('slave'));
    t.diagnostic(`failover after lbsecure: ${failover.seconds.toFixed(1)} s to the master (${failover.failedRequests} failed requests)`);
    assert.ok(await lab.holds('master', LAYER7.ip), 'the master holds the floating IP again');
  });
});
