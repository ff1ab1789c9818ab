/**
 * Benchmark, not a test: where a boot of the appliance spends its time, from QEMU's start
 * to the serial console's login prompt, with SeaBIOS and with OVMF (KVM when usable, TCG
 * otherwise). Each boot is split with what the booted system reports:
 *  - before the kernel: firmware, GRUB reading the kernel, the kernel unpacking itself
 *    (the wall time to the prompt less the prompt's start on the kernel's clock);
 *  - kernel and userspace, as `systemd-analyze` counts them, and the login prompt's start;
 *  - the critical chain to the serial console's getty (first boot of each firmware).
 * It prints each firmware's minimum, median and maximum, and OVMF against the SeaBIOS
 * baseline booted in the same run.
 *
 *   npx tsx bench/boot.ts [RAW_IMAGE] [ROUNDS]
 *
 * Without RAW_IMAGE it builds the default appliance the way the tests do (a cache hit
 * after them). ROUNDS is 3 unless given. Run it on a quiet machine: a busy host slows
 * TCG, and the figures with it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { bootVm, type Firmware } from '../builder/vm/qemu.js';
import { benchImage } from '../test-vms/build-helpers.js';
import { BOOT_TIMEOUT_MS } from '../test-vms/checks.js';

const rounds = Number(process.argv[3] ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`ROUNDS must be a whole number of at least 1, not ${process.argv[3]}`);

interface Boot {
  /** QEMU start to the login prompt on ttyS0. */
  wall: number;
  beforeKernel: number;
  kernel: number;
  /** The kernel's start to the serial getty's start, on the guest's monotonic clock. */
  prompt: number;
  userspace: number;
}

const SERIAL_GETTY = 'serial-getty@ttyS0.service';

async function boot(image: string, firmware: Firmware, chain: boolean): Promise<Boot> {
  const started = performance.now();
  const vm = await bootVm({ image, firmware });
  try {
    await vm.console.expect(/login: $/m, BOOT_TIMEOUT_MS);
    const wall = (performance.now() - started) / 1000;
    await vm.console.login('root', 'loadbalancer');
    await vm.console.prepareShell();
    await vm.console.run('systemctl is-system-running --wait', BOOT_TIMEOUT_MS);
    const finished = (await vm.console.run('systemd-analyze time')).output;
    const seconds = (label: string) => {
      const match = new RegExp(`([\\d.]+)(ms|s) \\(${label}\\)`).exec(finished);
      if (!match) throw new Error(`systemd-analyze time printed no ${label} time: ${finished}`);
      return Number(match[1]) / (match[2] === 'ms' ? 1000 : 1);
    };
    const gettyStart = (await vm.console.run(`systemctl show --value -p ExecMainStartTimestampMonotonic ${SERIAL_GETTY}`)).output.trim();
    const prompt = Number(gettyStart) / 1e6;
    if (!(prompt > 0)) throw new Error(`${SERIAL_GETTY} reports no start time: ${gettyStart}`);
    if (chain) {
      const critical = (await vm.console.run(`systemd-analyze critical-chain --no-pager ${SERIAL_GETTY}`)).output;
      process.stderr.write(`${firmware}: critical chain to the serial console\n${critical}\n`);
    }
    return { wall, beforeKernel: wall - prompt, kernel: seconds('kernel'), prompt, userspace: seconds('userspace') };
  } finally {
    await vm.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[0]!.toFixed(1)} / ${median(values).toFixed(1)} / ${sorted.at(-1)!.toFixed(1)}`;
};

const out = await mkdtemp(path.join(tmpdir(), 'lbbuild-bench-boot-'));
try {
  const image = await benchImage(process.argv[2], out);
  const boots: Record<Firmware, Boot[]> = { bios: [], uefi: [] };
  for (let round = 0; round < rounds; round++) {
    for (const firmware of ['bios', 'uefi'] as const) {
      const result = await boot(image, firmware, round === 0);
      boots[firmware].push(result);
      process.stderr.write(`round ${round + 1} ${firmware}: ${result.wall.toFixed(1)} s to the prompt (load ${loadavg()[0]!.toFixed(1)})\n`);
    }
  }
  console.log(`boot of ${path.basename(image)}, ${rounds} rounds, seconds as min / median / max`);
  for (const firmware of ['bios', 'uefi'] as const) {
    const runs = boots[firmware];
    const ratio = median(runs.map((r) => r.wall)) / median(boots.bios.map((r) => r.wall));
    console.log(
      `${firmware === 'bios' ? 'SeaBIOS' : 'OVMF   '}  to the prompt ${spread(runs.map((r) => r.wall))}  (${ratio.toFixed(2)}× SeaBIOS)\n` +
        `         before the kernel ${spread(runs.map((r) => r.beforeKernel))}, kernel start to the prompt ${spread(runs.map((r) => r.prompt))}\n` +
        `         systemd-analyze: kernel ${spread(runs.map((r) => r.kernel))}, userspace to multi-user ${spread(runs.map((r) => r.userspace))}`,
    );
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
