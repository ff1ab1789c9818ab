/**
 * Benchmark, not a test: the disk writers against `qemu-img convert` on one raw
 * disk, each run in its own process for its peak RSS. It prints seconds, peak
 * RSS and ratios, with issue 3's goals marked met or not met, and asserts nothing.
 *
 *   npx tsx bench/writers.ts [RAW_DISK]
 *
 * Without RAW_DISK it makes a 2 GiB disk holding about 540 MB of the host's
 * /usr in an ext4 partition, like the appliance's. The same content is also
 * laid into a 64 GiB virtual disk; both come with their extent list, so holes
 * are never read. Our seconds are those of the write itself (measured in the
 * child, without Node's start-up); qemu-img's are its whole run. CPU seconds
 * (user + system) are whole processes, ours with Node's start-up: on a busy
 * machine they show what the wall-clock ratios cannot.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { findOnPath } from '../builder/tools.js';
import type { Extent } from '../hypervisors/writers/raw-source.js';
import { layDisk, makeFilesystemImage, PARTITION_OFFSET } from './sample-disk.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SAMPLE_DISK_SIZE = 2 * GiB;
const BIG_DISK_SIZE = 64 * GiB;
const SAMPLE_DATA_BYTES = 540e6;

interface Format {
  label: string;
  /** The target whose disk is in this format. */
  target: string;
  /** qemu-img convert's output options; none where qemu-img cannot write the format. */
  qemu?: string[];
  /** Goal for ours/qemu-img seconds. */
  goal?: number;
}

const FORMATS: Format[] = [
  { label: 'vmdk streamOptimized', target: 'esx', qemu: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'], goal: 0.5 },
  { label: 'vmdk monolithicSparse', target: 'vmware', qemu: ['-O', 'vmdk', '-o', 'subformat=monolithicSparse'], goal: 1 },
  { label: 'vhd dynamic (vpc)', target: 'hyperv-legacy', qemu: ['-O', 'vpc', '-o', 'subformat=dynamic'], goal: 1 },
  { label: 'vhdx', target: 'hyperv', qemu: ['-O', 'vhdx'], goal: 1 },
  { label: 'qcow2', target: 'kvm', qemu: ['-O', 'qcow2'], goal: 1 },
  { label: 'xva', target: 'xen' },
];
const QEMU_FORMAT_TARGETS = FORMATS.filter((f) => f.qemu).map((f) => f.target).join(',');
const VM_TARGETS = 'esx,esx-ovf09,vmware,hyperv,hyperv-legacy,kvm,xen';

interface Run {
  seconds: number;
  /** User plus system CPU seconds of the whole process. */
  cpuSeconds: number;
  rssMiB: number;
  /** For a build: the seconds until the disks were written and packaging began. */
  diskSeconds?: number;
}

interface DiskUnderTest {
  name: string;
  raw: string;
  extents: string;
}

const REPO = path.resolve(import.meta.dirname, '..');
/** GNU time, for the peak RSS of every run, qemu-img's included. */
const TIME = findOnPath('time');
const missing = ['time', 'qemu-img', 'mke2fs', 'bzip2'].filter((tool) => !findOnPath(tool));
if (missing.length > 0) throw new Error(`the benchmark needs ${missing.join(', ')} (Debian packages time, qemu-utils, e2fsprogs, bzip2)`);

const work = await mkdtemp(path.join(tmpdir(), 'lbbuild-bench-'));
let runs = 0;
try {
  const { small, big, description } = await prepareDisks(process.argv[2]);
  const loadBefore = loadavg()[0]!;
  await execa('cat', [small.raw], { stdout: 'ignore' }); // into the page cache, so no run pays for the first read
  const results = new Map<string, Run>();
  for (const disk of [small, big]) {
    for (const format of FORMATS) {
      results.set(`ours ${format.label} ${disk.name}`, await ours('disks', format.target, disk));
      if (format.qemu) results.set(`qemu ${format.label} ${disk.name}`, await qemuImg(format, disk));
    }
    results.set(`fan-out 5 ${disk.name}`, await ours('disks', QEMU_FORMAT_TARGETS, disk));
    results.set(`fan-out 7 ${disk.name}`, await ours('disks', VM_TARGETS, disk));
  }
  const build = await ours('build', VM_TARGETS, small);
  printTable(description, small, big, results, build);
  process.stdout.write(`Load average (1 min) at the start ${loadBefore.toFixed(1)}, at the end ${loadavg()[0]!.toFixed(1)}, on ${availableParallelism()} cores.\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}

async function prepareDisks(rawDisk: string | undefined): Promise<{ small: DiskUnderTest; big: DiskUnderTest; description: string }> {
  let source = rawDisk;
  let offset = 0;
  let description = `the raw disk ${rawDisk}`;
  const smallSize = rawDisk ? Math.ceil((await stat(rawDisk)).size / MiB) * MiB : SAMPLE_DISK_SIZE;
  if (!source) {
    source = path.join(work, 'root.ext4');
    process.stderr.write(`making an ext4 file system with ${SAMPLE_DATA_BYTES / 1e6} MB of /usr …\n`);
    const files = await makeFilesystemImage(source, SAMPLE_DISK_SIZE - 2 * MiB, SAMPLE_DATA_BYTES, work);
    offset = PARTITION_OFFSET;
    description = `${(files / 1e6).toFixed(0)} MB of files from the host's /usr in ext4 at 1 MiB`;
  }
  const lay = async (size: number): Promise<DiskUnderTest & { data: number }> => {
    const name = size >= GiB ? `${size / GiB} GiB` : `${size / MiB} MiB`;
    const raw = path.join(work, `${size}.raw`);
    const extents: Extent[] = await layDisk(raw, size, source!, offset);
    await writeFile(`${raw}.extents.json`, JSON.stringify(extents));
    return { name, raw, extents: `${raw}.extents.json`, data: extents.reduce((sum, [, length]) => sum + length, 0) };
  };
  const small = await lay(smallSize);
  const big = await lay(Math.max(BIG_DISK_SIZE, smallSize));
  if (!rawDisk) await rm(source);
  return { small, big, description: `${description}; ${(small.data / MiB).toFixed(0)} MiB of data in the disk` };
}

function ours(mode: 'disks' | 'build', targets: string, disk: DiskUnderTest): Promise<Run> {
  return measure(`${mode} ${targets} (${disk.name})`, async (out) => {
    const script = path.join(REPO, 'bench/measured-run.ts');
    const run = await timed(process.execPath, ['--import', 'tsx', script, mode, targets, disk.raw, disk.extents, out]);
    const inner = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { seconds: number; diskSeconds?: number };
    return { ...inner, cpuSeconds: run.cpuSeconds, rssMiB: run.rssMiB };
  });
}

function qemuImg(format: Format, disk: DiskUnderTest): Promise<Run> {
  return measure(`qemu-img ${format.label} (${disk.name})`, async (out) => {
    const run = await timed('qemu-img', ['convert', '-f', 'raw', ...format.qemu!, disk.raw, path.join(out, 'disk')]);
    return { seconds: run.elapsed, cpuSeconds: run.cpuSeconds, rssMiB: run.rssMiB };
  });
}

/** Runs `body` with a fresh output folder, removed afterwards, and logs what was measured. */
async function measure(label: string, body: (out: string) => Promise<Run>): Promise<Run> {
  const out = path.join(work, `run-${runs++}`);
  await mkdir(out);
  try {
    const result = await body(out);
    process.stderr.write(`  ${label}: ${result.seconds.toFixed(1)} s, ${result.cpuSeconds.toFixed(1)} CPU s, ${result.rssMiB.toFixed(0)} MiB\n`);
    return result;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function timed(cmd: string, args: string[]): Promise<{ stdout: string; elapsed: number; cpuSeconds: number; rssMiB: number }> {
  const timeFile = path.join(work, 'time.txt');
  const { stdout } = await execa(TIME!, ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args]);
  const [elapsed, user, system, maxKiB] = (await readFile(timeFile, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number);
  return { stdout, elapsed: elapsed!, cpuSeconds: user! + system!, rssMiB: maxKiB! / 1024 };
}

function printTable(description: string, small: DiskUnderTest, big: DiskUnderTest, results: Map<string, Run>, build: Run): void {
  const get = (key: string) => results.get(key);
  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  const s = (run?: Run) => (run ? run.seconds.toFixed(1) : '-');
  const cpu = (run?: Run) => (run ? run.cpuSeconds.toFixed(1) : '-');
  const mib = (run?: Run) => (run ? run.rssMiB.toFixed(0) : '-');
  const header = [
    '', `${small.name}: ours s`, 'qemu-img s', 'ours/qemu', 'goal', 'CPU ours s', 'CPU qemu s', 'RSS ours MiB', 'RSS qemu MiB',
    `${big.name}: ours s`, `${big.name} / ${small.name}`, 'goal ≤1.2', `RSS ours ${big.name}`,
  ];
  const row = (label: string, a: Run, b: Run, qemuSeconds: number | undefined, goal: number | undefined, qemu?: Run) => {
    const ratio = qemuSeconds === undefined ? undefined : a.seconds / qemuSeconds;
    const growth = b.seconds / a.seconds;
    return [
      label, s(a), qemu ? s(qemu) : qemuSeconds === undefined ? '-' : `${qemuSeconds.toFixed(1)} (sum)`,
      ratio?.toFixed(2) ?? '-', ratio === undefined ? '-' : `≤${goal} ${verdict(ratio <= goal!)}`,
      cpu(a), cpu(qemu), mib(a), mib(qemu), s(b), growth.toFixed(2), verdict(growth <= 1.2), mib(b),
    ];
  };
  const rows = [header];
  let qemuSum = 0;
  for (const format of FORMATS) {
    const qemu = get(`qemu ${format.label} ${small.name}`);
    qemuSum += qemu?.seconds ?? 0;
    rows.push(row(format.label, get(`ours ${format.label} ${small.name}`)!, get(`ours ${format.label} ${big.name}`)!, qemu?.seconds, format.goal, qemu));
  }
  // The 7 VM targets write two streamOptimized VMDKs (esx, esx-ovf09), so their
  // qemu-img sum counts that conversion twice; qemu-img cannot write the XVA.
  const streamSeconds = get(`qemu ${FORMATS[0]!.label} ${small.name}`)!.seconds;
  rows.push(row('fan-out: the 5 formats above, one read', get(`fan-out 5 ${small.name}`)!, get(`fan-out 5 ${big.name}`)!, qemuSum, 0.5));
  rows.push(row("fan-out: all 7 VM targets' disks, one read", get(`fan-out 7 ${small.name}`)!, get(`fan-out 7 ${big.name}`)!, qemuSum + streamSeconds, 0.5));

  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`\nDisk: ${description}.\n\n`);
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')}\n`);
  process.stdout.write(
    `\nbuildTargets, all 7 VM targets, ${small.name}: ${build.diskSeconds!.toFixed(1)} s writing the disks, ` +
      `${(build.seconds - build.diskSeconds!).toFixed(1)} s packaging (zip, ova, tar.bz2), ${cpu(build)} CPU s, peak RSS ${mib(build)} MiB.\n`,
  );
}
