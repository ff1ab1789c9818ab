/**
 * Benchmark, not a test: requests per second and latency through each kind of virtual
 * service, each as a ratio to requests sent straight to a real server in the same run.
 * The services lab of the services test (load balancer, backend VM, the namespace's
 * client) is booted once; ApacheBench (`ab`, Debian's apache2-utils) runs in the
 * namespace, one new connection per request. Prints a table and asserts nothing.
 *
 *   npx tsx bench/services.ts [RAW_IMAGE]
 *
 * Without RAW_IMAGE it builds the default appliance the way the tests do (a cache hit
 * after them). Each target runs ROUNDS times, the rounds interleaved so that a change
 * in the machine's load falls on every target alike; the table shows the medians.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { findOnPath } from '../builder/tools.js';
import { server } from '../test-vms/backend-vm.js';
import { benchImage } from '../test-vms/build-helpers.js';
import { startServicesLab, type ServicesLab } from '../test-vms/services-lab.js';
import { addDrVip, addLayer7Vip, addNatVip, addSslTerminations, DR, LAYER7, NAT, POUND, STUNNEL } from '../test-vms/services-setup.js';

const SECONDS_PER_RUN = 10;
const CONCURRENCY = 8;
const ROUNDS = 3;

interface Target {
  label: string;
  url: string;
}

const BASELINE: Target = { label: 'straight to rip1 (baseline)', url: `http://${server('rip1').ip}/` };
const TARGETS: Target[] = [
  BASELINE,
  { label: 'straight to nat1 (from the back bridge)', url: `http://${server('nat1').ip}/` },
  { label: 'layer 7 HAProxy VIP', url: `http://${LAYER7.ip}/` },
  { label: 'layer 4 NAT VIP', url: `http://${NAT.ip}/` },
  { label: 'layer 4 DR VIP', url: `http://${DR.ip}/` },
  { label: 'STunnel HTTPS → layer 7 VIP', url: `https://${STUNNEL.ip}/` },
  { label: 'Pound HTTPS → layer 7 VIP', url: `https://${POUND.ip}/` },
];

interface Measurement {
  requestsPerSecond: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

if (!findOnPath('ab')) throw new Error('the benchmark needs ab (Debian package apache2-utils)');

const out = await mkdtemp(path.join(tmpdir(), 'lbbuild-bench-services-'));
let lab: ServicesLab | undefined;
try {
  const image = await benchImage(process.argv[2], out);
  process.stderr.write(`booting the load balancer and the backend VM from ${image} …\n`);
  lab = await startServicesLab(image, { drVips: [DR.ip] });
  process.stderr.write('configuring the virtual services …\n');
  await addLayer7Vip(lab);
  await addNatVip(lab);
  await addDrVip(lab);
  await addSslTerminations(lab);
  const loadBefore = loadavg()[0]!;
  const runs = new Map<Target, Measurement[]>(TARGETS.map((t) => [t, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of TARGETS) {
      process.stderr.write(`round ${round}/${ROUNDS}: ${target.label} …\n`);
      runs.get(target)!.push(await measure(lab, target.url));
    }
  }
  printTable(new Map([...runs].map(([t, m]) => [t, median(m)])));
  process.stdout.write(`Load average (1 min) at the start ${loadBefore.toFixed(1)}, at the end ${loadavg()[0]!.toFixed(1)}, on ${availableParallelism()} cores.\n`);
} finally {
  await lab?.close();
  await rm(out, { recursive: true, force: true });
}

async function measure(lab: ServicesLab, url: string): Promise<Measurement> {
  const args = ['-q', '-t', String(SECONDS_PER_RUN), '-n', '1000000', '-c', String(CONCURRENCY), '-s', '10', url];
  const result = await lab.network.exec('ab', args, { timeoutMs: (SECONDS_PER_RUN + 30) * 1000 });
  if (result.exitCode !== 0) throw new Error(`ab ${args.join(' ')} exited ${result.exitCode}: ${result.stderr || result.stdout}`);
  const field = (pattern: RegExp) => {
    const match = pattern.exec(result.stdout);
    if (!match) throw new Error(`no ${pattern} in ab's report:\n${result.stdout}`);
    return Number(match[1]);
  };
  const non2xx = /^Non-2xx responses:\s+(\d+)/m.exec(result.stdout);
  return {
    requestsPerSecond: field(/^Requests per second:\s+([\d.]+)/m),
    meanMs: field(/^Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m),
    p50Ms: field(/^\s+50%\s+(\d+)/m),
    p99Ms: field(/^\s+99%\s+(\d+)/m),
    failed: field(/^Failed requests:\s+(\d+)/m) + Number(non2xx?.[1] ?? 0),
  };
}

function median(measurements: Measurement[]): Measurement {
  const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    requestsPerSecond: mid(measurements.map((m) => m.requestsPerSecond)),
    meanMs: mid(measurements.map((m) => m.meanMs)),
    p50Ms: mid(measurements.map((m) => m.p50Ms)),
    p99Ms: mid(measurements.map((m) => m.p99Ms)),
    failed: measurements.reduce((sum, m) => sum + m.failed, 0),
  };
}

function printTable(results: Map<Target, Measurement>): void {
  const base = results.get(BASELINE)!;
  const header = ['', 'req/s', 'req/s ratio', 'mean ms', 'mean ratio', 'p50 ms', 'p99 ms', 'failed'];
  const rows = [header];
  for (const [target, m] of results) {
    rows.push([
      target.label,
      m.requestsPerSecond.toFixed(0),
      (m.requestsPerSecond / base.requestsPerSecond).toFixed(2),
      m.meanMs.toFixed(1),
      (m.meanMs / base.meanMs).toFixed(2),
      String(m.p50Ms),
      String(m.p99Ms),
      String(m.failed),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(
    `\nab, ${CONCURRENCY} concurrent connections, a new connection per request, ${SECONDS_PER_RUN} s a run, median of ${ROUNDS} interleaved rounds; ` +
      'ratios are to the baseline (requests straight to rip1):\n\n',
  );
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')}\n`);
}
