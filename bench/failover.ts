/**
 * Benchmark, not a test: how long the clustered pair's VIP is gone when the active node
 * fails. The HA lab of the HA test (master, slave, backend VM, the namespace's client)
 * is booted once and paired (ucast heartbeat, the recipe's timers); each round then
 *  - switches the services over by stopping heartbeat on the active node (the planned
 *    handover, the baseline: no dead time to wait out), and
 *  - powers the active node off (QEMU killed) while the client asks the VIP every
 *    100 ms, then powers it on again and waits until the pair is whole.
 * It prints minimum, median and maximum of both, their ratio, and the failed requests.
 *
 *   npx tsx bench/failover.ts [RAW_IMAGE] [ROUNDS]
 *
 * Without RAW_IMAGE it builds the default appliance the way the tests do (a cache hit
 * after them). ROUNDS is 5 unless given.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { benchImage } from '../test-vms/build-helpers.js';
import {
  addLayer7VipOn, failOver, REAL_SERVER_ANSWER, SLAVE_ADDRESS, startHaLab, VIP_URL, vipAnswers, waitForBars, type Failover, type HaLab, type Node,
} from '../test-vms/ha-lab.js';
import { LAYER7 } from '../test-vms/services-setup.js';

const rounds = Number(process.argv[3] ?? 5);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`ROUNDS must be a whole number of at least 1, not ${process.argv[3]}`);

const other = (node: Node): Node => (node === 'master' ? 'slave' : 'master');

async function activeNode(lab: HaLab): Promise<Node> {
  const holders: Node[] = [];
  for (const node of ['master', 'slave'] as const) if (await lab.holds(node, LAYER7.ip)) holders.push(node);
  if (holders.length !== 1) throw new Error(`${holders.length} nodes hold ${LAYER7.ip}`);
  return holders[0]!;
}

/** Both nodes up and linked, `active` holding the services. */
async function whole(lab: HaLab, active: Node): Promise<void> {
  await waitForBars(lab, { [active]: `${active}/active/link up`, [other(active)]: `${other(active)}/passive/link up` } as Record<Node, string>, 240_000);
}

const summary = (label: string, runs: Failover[]) => {
  const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)]!;
  const failed = runs.map((r) => r.failedRequests);
  return { label, min: seconds[0]!, median, max: seconds.at(-1)!, failed: `${Math.min(...failed)}–${Math.max(...failed)}` };
};

const out = await mkdtemp(path.join(tmpdir(), 'lbbuild-bench-failover-'));
let lab: HaLab | undefined;
try {
  const image = await benchImage(process.argv[2], out);
  process.stderr.write(`booting master, slave and the backend VM from ${image} …\n`);
  lab = await startHaLab(image);
  await lab.node.master.lbcliJson('ha-pair', ['--peer-ip', SLAVE_ADDRESS, '--peer-password', 'loadbalancer']);
  await addLayer7VipOn(lab, 'master');
  await whole(lab, 'master');
  await vipAnswers(lab);
  const planned: Failover[] = [];
  const crashes: Failover[] = [];
  for (let round = 1; round <= rounds; round++) {
    let active = await activeNode(lab);
    const handover = await failOver(lab, VIP_URL, REAL_SERVER_ANSWER, () => lab!.node[active].vm.console.check('systemctl stop heartbeat').then(() => undefined));
    planned.push(handover);
    await lab.node[active].vm.console.check('systemctl start heartbeat');
    active = other(active);
    await whole(lab, active);
    const crash = await failOver(lab, VIP_URL, REAL_SERVER_ANSWER, () => lab!.powerOff(active));
    crashes.push(crash);
    process.stderr.write(`round ${round}: handover ${handover.seconds.toFixed(1)} s, power-off of the ${active} ${crash.seconds.toFixed(1)} s (${crash.failedRequests} failed requests)\n`);
    await lab.powerOn(active);
    await whole(lab, other(active));
  }
  const base = summary('planned handover (baseline)', planned);
  const rows = [base, summary('active node powered off', crashes)];
  console.log(`\nVIP back after (seconds, ${rounds} rounds; load average ${loadavg()[0]!.toFixed(1)})`);
  console.log('| what | min | median | max | median ratio | failed requests (one every 100 ms, each given 1 s) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.label} | ${r.min.toFixed(1)} | ${r.median.toFixed(1)} | ${r.max.toFixed(1)} | ${(r.median / base.median).toFixed(2)} | ${r.failed} |`);
} finally {
  await lab?.close();
  await rm(out, { recursive: true, force: true });
}
