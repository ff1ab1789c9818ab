/**
 * The installer of a physical model, booted: the R20's artifacts built as a release
 * pipeline builds them, the ISO booted in QEMU (q35, AHCI) as a CD with SeaBIOS and as a
 * USB stick with OVMF, each time installing unattended onto a blank disk (lb.install=/dev/sda
 * typed into GRUB's editor over the serial console), and the installed disk booted alone
 * with the same firmware: the console banner, root on the serial console, the model's four
 * NICs (e1000e standing in for the model's, with fixed MACs) as eth0-eth3 in PCI order, and
 * the model file. The UEFI-installed R20 then takes signed updates: bundles for another model
 * or with a changed byte are refused, and the R20's v8.0.1 bundle (built from a recipe that
 * extends the R20's) boots in slot B with the configuration made before it. The guests have
 * no network but QEMU's user networking with restrict=on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { buildImage, scratchProject, TEST_CACHE } from './build-helpers.js';
import { applyNextBundle, APPLY_TIMEOUT_MS, NEXT_VERSION, NEXT_VERSION_PATTERN, rebundled, tamperedBundle, type SlotStatus } from './update-bundles.js';
import { BOOT_TIMEOUT_MS } from './checks.js';
import { SerialConsole } from '../builder/vm/console.js';
import { kvmUsable, OVMF_FIRMWARE, type Firmware } from '../builder/vm/qemu.js';
import { fixedEd25519KeyPem } from '../builder/test-support.js';

const ARTIFACTS = { image: 'LBHW-R20-v8.0.img.xz', iso: 'LBHW-R20-v8.0-installer.iso', update: 'LBHW-R20-v8.0.lbupdate' };
const SERIAL_ENTRY = /Install Loadbalancer\.org Enterprise R20 v8\.0 \(serial console ttyS0\)/;
/** GRUB and the kernel start in seconds; writing and reading back the 2 GiB disk takes minutes under TCG. */
const MENU_TIMEOUT_MS = 5 * 60_000;
const INSTALL_TIMEOUT_MS = 30 * 60_000;
const NIC_COUNT = 4;
/** PCI slots of the NICs on q35's root bus, in the order they are to be eth0-eth3. */
const NIC_SLOTS = [0x10, 0x11, 0x12, 0x13];
const MACS = NIC_SLOTS.map((slot) => `52:54:00:12:20:${slot.toString(16)}`);
const KEYS = { down: '\x1b[B', nextLine: '\x0e', endOfLine: '\x05', boot: '\x18' };
const KEY_LABEL = 'installer-test';
/** The address set before the update, which the updated slot must have. */
const KEPT_ADDRESS = '192.168.2.31/24';

let work: string;
let iso: string;
let diskBytes: number;
/** The disk each firmware's install wrote, once it verified. */
const installed = new Map<Firmware, string>();
/** Bundles for the installed R20, as read-only virtio disks by serial: v8.0.1, and two it must refuse. */
let bundles: Array<{ file: string; serial: 'next' | 'tampered' | 'virtual' }>;
/** The UEFI-installed R20, booted and kept running for the update checks. */
let r20: Guest | undefined;

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lbbuild-installer-'));
  const keyFile = path.join(work, 'update-key.pem');
  await writeFile(keyFile, fixedEd25519KeyPem(KEY_LABEL));
  const out = path.join(work, 'out');
  const summary = await buildImage(['--recipe', 'recipes/models/r20.yaml', '--target', 'physical-r20', '--out', out, '--cache', TEST_CACHE, '--no-audit'], {
    env: { LBBUILD_UPDATE_SIGNING_KEY: keyFile },
  });
  const files = summary.artifacts.map((a) => path.basename(a.file));
  for (const name of Object.values(ARTIFACTS)) assert.ok(files.includes(name), `${name} among the artifacts ${files.join(', ')}`);
  iso = path.join(out, ARTIFACTS.iso);
  // The raw disk's size, as the image's xz index records it (the totals line's fifth column).
  const list = (await execa('xz', ['--robot', '--list', path.join(out, ARTIFACTS.image)])).stdout;
  diskBytes = Number(/^totals\t(?:[^\t]*\t){3}(\d+)\t/m.exec(list)?.[1]);
  assert.ok(Number.isSafeInteger(diskBytes) && diskBytes > 0, `the disk size in xz --list:\n${list}`);

  const project = await scratchProject();
  const nextRecipe = path.join(project, 'recipes', 'models', 'r20-next.yaml');
  await writeFile(nextRecipe, `extends: r20.yaml\nversion: "${NEXT_VERSION}"\n`);
  const next = await buildImage(['--recipe', nextRecipe, '--target', 'physical-r20', '--out', path.join(work, 'next'), '--cache', TEST_CACHE, '--no-audit'], {
    env: { LBBUILD_UPDATE_SIGNING_KEY: keyFile },
  });
  await rm(path.dirname(project), { recursive: true });
  const nextBundle = next.artifacts.find((a) => a.file.endsWith(`LBHW-R20-v${NEXT_VERSION}.lbupdate`))?.file;
  assert.ok(nextBundle, `the v${NEXT_VERSION} bundle among ${next.artifacts.map((a) => a.file).join(', ')}`);
  bundles = [
    { file: nextBundle, serial: 'next' },
    { file: await tamperedBundle(nextBundle, work), serial: 'tampered' },
    { file: await rebundled(nextBundle, work, 'virtual', { model: 'virtual', keyLabel: KEY_LABEL }), serial: 'virtual' },
  ];
});

after(async () => {
  await r20?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Guest {
  console: SerialConsole;
  /** Resolves when QEMU exits (unless reboots are allowed, also when the guest reboots). */
  exited: ResultPromise;
  stop(): Promise<void>;
}

/** QEMU as builder/vm/qemu.ts runs it (KVM when usable, no boot menu, an entropy source), on q35 with its AHCI controller. */
function startQemu(firmware: Firmware, devices: string[], { allowReboot = false } = {}): Guest {
  if (firmware === 'uefi' && !existsSync(OVMF_FIRMWARE)) throw new Error(`UEFI boot needs ${OVMF_FIRMWARE} (Debian package ovmf)`);
  const args = [
    ...(kvmUsable() ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
    '-machine', 'q35',
    '-m', '1024',
    '-smp', '2',
    // No default CD drive, floppy or NIC: only what the test gives.
    '-nodefaults',
    '-vga', 'std',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', 'stdio',
    ...(allowReboot ? [] : ['-no-reboot']),
    ...(firmware === 'uefi' ? ['-bios', OVMF_FIRMWARE] : []),
    '-boot', 'menu=off,strict=on',
    '-device', 'virtio-rng-pci',
    ...devices,
  ];
  const child = execa('qemu-system-x86_64', args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false });
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    // NICs after the first have no cable in, as on the shipped VMs; QEMU says so and it is no news.
    if (!/has no peer|terminating on signal/.test(text)) process.stderr.write(`qemu: ${text}`);
  });
  return {
    console: new SerialConsole(child.stdout!, child.stdin!),
    exited: child,
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}

const drive = (file: string, id: string, options = '') => ['-drive', `file=${file},format=raw,if=none,id=${id}${options}`];

/** The installer medium as the firmware's boot device: a CD on AHCI port 0 (BIOS) or a USB stick on xHCI (UEFI); the blank disk on the next AHCI port. */
function installerDevices(firmware: Firmware, disk: string): string[] {
  const medium =
    firmware === 'bios'
      ? [...drive(iso, 'medium', ',media=cdrom,readonly=on'), '-device', 'ide-cd,drive=medium,bus=ide.0,bootindex=0']
      : ['-device', 'qemu-xhci,id=xhci', ...drive(iso, 'medium', ',readonly=on'), '-device', 'usb-storage,bus=xhci.0,drive=medium,bootindex=0'];
  return [...medium, ...drive(disk, 'disk0'), '-device', `ide-hd,drive=disk0,bus=ide.${firmware === 'bios' ? 1 : 0},bootindex=1`];
}

/** The installed disk, the model's NICs (the first on user networking, none with an option ROM), and read-only virtio disks named by their serials. */
function applianceDevices(disk: string, attached: Array<{ file: string; serial: string }> = []): string[] {
  const nics = MACS.flatMap((mac, n) => ['-device', `e1000e,mac=${mac},addr=0x${NIC_SLOTS[n]!.toString(16)},romfile=${n === 0 ? ',netdev=net0' : ''}`]);
  const disks = attached.flatMap(({ file, serial }) => [...drive(file, serial, ',readonly=on'), '-device', `virtio-blk-pci,drive=${serial},serial=${serial}`]);
  return [...drive(disk, 'disk0'), '-device', 'ide-hd,drive=disk0,bus=ide.0,bootindex=0', '-netdev', 'user,id=net0,restrict=on', ...nics, ...disks];
}

/** The guest's console so far, for a failure's diagnostics. */
function tail(guest: Guest, lines = 60): string {
  return guest.console.transcript.split('\n').slice(-lines).join('\n');
}

interface Install {
  seconds: number;
  medium: string;
  offered: string[];
  transcript: string;
}

/**
 * Boots the installer, picks the serial-console entry in GRUB's menu, adds lb.install=/dev/sda
 * to its linux line (the entry's lines are setparams, an empty line, linux, initrd) and boots
 * it; waits for the installer's verdict and for the guest's reboot, which ends QEMU.
 */
async function installUnattended(guest: Guest): Promise<Install> {
  const c = guest.console;
  await c.expect(SERIAL_ENTRY, MENU_TIMEOUT_MS);
  c.send(KEYS.down);
  await delay(500);
  c.send('e');
  await c.expect('Ctrl-x', 60_000);
  await c.expect('linux /boot/vmlinuz console=tty0 console=ttyS0,115200n8', 30_000);
  // Key by key, as a person types: under OVMF both the firmware's console and GRUB's serial
  // driver read the UART, and characters sent in one burst can come out of order.
  for (const key of [KEYS.nextLine, KEYS.nextLine, KEYS.endOfLine, ...' lb.install=/dev/sda']) {
    c.send(key);
    await delay(150);
  }
  await delay(1000);
  c.send(KEYS.boot);
  const started = Date.now();
  await c.expect(/lbinstall: kernel command line: .* lb\.install=\/dev\/sda\n/, 5 * 60_000);
  const { before: list } = await c.expect(/lbinstall: lb\.install=\/dev\/sda: (installing there, unattended|.*)\n/, 5 * 60_000);
  const { match } = await c.expect(/lbinstall: (verified|FAILED): .*\n/, INSTALL_TIMEOUT_MS);
  assert.equal(match[1], 'verified', match[0]);
  const verified = Date.now();
  await c.expect('lbinstall: installed Loadbalancer.org Enterprise R20 v8.0 on /dev/sda; rebooting', 60_000);
  const exit = await Promise.race([guest.exited, delay(120_000).then(() => undefined)]);
  assert.ok(exit, 'the guest rebooted (QEMU ran with -no-reboot) within 2 minutes of installing');
  const transcript = c.transcript;
  const medium = /lbinstall: the medium is \/dev\/(\S+); the image is LBHW-R20-v8\.0\.img\.xz\n/.exec(transcript)?.[1];
  assert.ok(medium, 'the installer named its medium');
  const offered = [...list.matchAll(/^lbinstall: {3}\/dev\/(\S+) .*$/gm)].filter((line) => !line[0].includes('not offered')).map((line) => line[1]!);
  return { seconds: Math.round((verified - started) / 1000), medium, offered, transcript };
}

async function install(t: { diagnostic(message: string): void }, firmware: Firmware): Promise<Install> {
  const disk = path.join(work, `${firmware}-disk.raw`);
  await writeFile(disk, '');
  await truncate(disk, diskBytes);
  const guest = startQemu(firmware, installerDevices(firmware, disk));
  try {
    const result = await installUnattended(guest);
    t.diagnostic(
      `${firmware}: installed and verified in ${result.seconds} s from booting the installer's kernel (${kvmUsable() ? 'KVM' : 'TCG'}); medium /dev/${result.medium}, disks offered: ${result.offered.join(', ')}`,
    );
    installed.set(firmware, disk);
    return result;
  } catch (error) {
    t.diagnostic(`installer console (last 60 lines):\n${tail(guest)}`);
    throw error;
  } finally {
    await guest.stop();
  }
}

/** Waits for the login prompt, logs root in and waits for the boot to finish; says how long the boot took. */
async function loggedIn(t: { diagnostic(message: string): void }, guest: Guest, what: string): Promise<string> {
  const c = guest.console;
  const started = Date.now();
  const { before } = await c.expect(/lbmaster login: $/m, BOOT_TIMEOUT_MS);
  t.diagnostic(`${what} booted to its login prompt in ${Math.round((Date.now() - started) / 1000)} s`);
  await c.login('root', 'loadbalancer');
  await c.prepareShell();
  await c.run('systemctl is-system-running --wait', BOOT_TIMEOUT_MS);
  return before;
}

/** Boots the disk `firmware`'s install wrote, with `options` for QEMU, and checks it: banner, root on the serial console, the NICs, the model file. */
async function bootInstalledDisk(
  t: { diagnostic(message: string): void },
  firmware: Firmware,
  options: { attached?: Array<{ file: string; serial: string }>; allowReboot?: boolean } = {},
): Promise<Guest> {
  const disk = installed.get(firmware);
  assert.ok(disk, `the ${firmware} install did not verify; there is no disk to boot`);
  const guest = startQemu(firmware, applianceDevices(disk, options.attached), options);
  const c = guest.console;
  try {
    const before = await loggedIn(t, guest, `${firmware}: the installed disk`);
    assert.ok(before.includes('Welcome to the Loadbalancer.org appliance.'), 'the console banner');
    assert.equal(await c.check('tty'), '/dev/ttyS0', 'root is logged in on the serial console');
    assert.match(await c.check('cat /proc/cmdline'), /(^| )console=ttyS0,115200n8( |$)/);
    // With UEFI the screen console is the firmware's framebuffer, which GRUB must hand over; with BIOS, VGA text mode.
    if (firmware === 'uefi') assert.match(await c.check('cat /proc/fb'), /^0 EFI VGA$/m, 'the kernel has the EFI framebuffer for tty0');

    const links = [...(await c.check('ip -o link show')).matchAll(/^\d+: (eth\d+): .*link\/ether ([0-9a-f:]{17}) /gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(links, MACS.map((mac, n) => [`eth${n}`, mac]), 'eth0-eth3, with the MACs given in PCI order, and no other ethN');
    for (let n = 0; n < NIC_COUNT; n++) {
      assert.equal(await c.check(`basename "$(readlink /sys/class/net/eth${n}/device/driver)"`), 'e1000e', `eth${n}'s driver`);
      assert.equal(await c.check(`basename "$(readlink -f /sys/class/net/eth${n}/device)"`), `0000:00:${NIC_SLOTS[n]!.toString(16)}.0`, `eth${n}'s PCI address`);
    }
    const model = await c.check('cat /etc/loadbalancer/model');
    assert.match(model, /^MODEL_ID=r20$/m, model);
    assert.match(model, new RegExp(`^NIC_COUNT=${NIC_COUNT}$`, 'm'), model);
    return guest;
  } catch (error) {
    t.diagnostic(`appliance console (last 60 lines):\n${tail(guest)}`);
    await guest.stop();
    throw error;
  }
}

/** The running R20, with its console's last lines in the diagnostics when `check` fails. */
async function onR20(t: { diagnostic(message: string): void }, check: (guest: Guest) => Promise<void>): Promise<void> {
  assert.ok(r20, 'the UEFI-installed R20 did not boot; there is no appliance to update');
  try {
    await check(r20);
  } catch (error) {
    t.diagnostic(`appliance console (last 60 lines):\n${tail(r20)}`);
    throw error;
  }
}

const slotStatus = async (guest: Guest): Promise<SlotStatus> => JSON.parse(await guest.console.check('lb-update status --json')) as SlotStatus;
const bundleDisk = (serial: (typeof bundles)[number]['serial']) => `/dev/disk/by-id/virtio-${serial}`;

test('BIOS: from the ISO as a CD, the installer writes the blank AHCI disk unattended, verifies it, ejects the CD and reboots', async (t) => {
  const result = await install(t, 'bios');
  assert.equal(result.medium, 'sr0');
  assert.deepEqual(result.offered, ['sda'], 'the blank disk is offered, and nothing else');
  assert.match(result.transcript, /lbinstall: ejected the CD\n/);
  assert.doesNotMatch(result.transcript, /no suitable video mode found/, 'GRUB boots the kernel with the screen in a mode it can show');
});

test('BIOS: the installed disk boots alone: banner, root on the serial console, eth0-eth3 on e1000e in PCI order, the R20 model file', async (t) => {
  await (await bootInstalledDisk(t, 'bios')).stop();
});

test('UEFI: from the ISO as a USB stick, the installer offers only the internal disk, writes it unattended, verifies it and reboots', async (t) => {
  const result = await install(t, 'uefi');
  // The stick is the second SCSI disk (usb-storage loads after AHCI has found sda): its disk or its partition 1.
  assert.match(result.medium, /^sdb1?$/);
  assert.deepEqual(result.offered, ['sda'], 'the stick the installer booted from is not offered');
  assert.match(result.transcript, /take the installer's medium \(\/dev\/sdb1?\) out before the machine boots from it again/);
  assert.doesNotMatch(result.transcript, /no suitable video mode found/, 'GRUB hands the kernel the firmware\'s framebuffer, for the screen console');
});

test('UEFI: the installed disk boots alone with UEFI: banner, root on the serial console, eth0-eth3 on e1000e in PCI order, the R20 model file', async (t) => {
  r20 = await bootInstalledDisk(t, 'uefi', { attached: bundles, allowReboot: true });
});

test("R20: lbcli ha-pair --heartbeat serial takes the model's heartbeat port, ttyS1, where a virtual appliance needs --serial-port", async (t) => {
  await onR20(t, async ({ console: c }) => {
    assert.match(await c.check('grep HEARTBEAT_SERIAL /etc/loadbalancer/model'), /^HEARTBEAT_SERIAL=\/dev\/ttyS1$/);
    // The port is checked before the peer: past it, the pairing stops at the peer address, which is in no subnet of the R20.
    const refused = await c.run('lbcli --action ha-pair --peer-ip 10.99.0.2 --heartbeat serial --peer-password x');
    assert.notEqual(refused.status, 0, refused.output);
    assert.doesNotMatch(refused.output, /needs --serial-port/);
    assert.match(refused.output, /--peer-ip 10\.99\.0\.2 is in no interface's subnet/);
  });
});

test('R20: a bundle with one byte changed and one for the virtual appliance are refused, and nothing is written', async (t) => {
  await onR20(t, async (guest) => {
    const c = guest.console;
    assert.deepEqual(await slotStatus(guest), { booted: 'A', next: 'A', slots: { A: { version: '8.0', state: 'good' }, B: { version: '', state: 'empty' } } });
    const grubenv = await c.check('grub-editenv /boot/efi/grub/grubenv list');
    for (const [serial, reason] of [
      ['tampered', /does not match its signed sha256: the bundle is damaged; nothing was written/],
      ['virtual', /the bundle is for model 'virtual'; this appliance is model 'r20'; nothing was written/],
    ] as const) {
      const refused = await c.run(`lb-update apply ${bundleDisk(serial)}`, APPLY_TIMEOUT_MS);
      assert.equal(refused.status, 2, `${serial}: ${refused.output}`);
      assert.match(refused.output, reason);
    }
    assert.equal(await c.check('grub-editenv /boot/efi/grub/grubenv list'), grubenv, 'grubenv unchanged');
    assert.equal((await c.run(`cmp -s -n ${16 * 1024 * 1024} /dev/disk/by-partlabel/root-b /dev/zero`)).status, 0, 'slot B still empty');
  });
});

test(`R20: the v${NEXT_VERSION} bundle is written to slot B, boots, is marked good, and keeps the address and the service made before`, async (t) => {
  await onR20(t, async (guest) => {
    const c = guest.console;
    await c.check(`lb-apply-network --address ${KEPT_ADDRESS}`);
    await c.check('lbcli --action add-vip --layer 7 --vip kept --ip 192.168.2.41 --ports 80 --mode http');
    const services = () => c.check('lbcli --action list --json');
    const before = await services();
    const writeSeconds = await applyNextBundle(c, bundleDisk('next'));
    const written = Date.now();
    await loggedIn(t, guest, `the R20 in slot B (v${NEXT_VERSION})`);
    t.diagnostic(`R20 update: ${writeSeconds} s to check and write slot B, ${Math.round((Date.now() - written) / 1000)} s to reboot into it and finish booting`);
    assert.match(await c.check('cat /proc/cmdline'), /(^| )lb\.slot=B( |$)/);
    assert.match(await c.check('cat /etc/loadbalancer/version'), new RegExp(` v${NEXT_VERSION_PATTERN}$`));
    assert.equal((await c.run('systemctl is-active lb-slot-health', 180_000)).output.trim(), 'active');
    assert.deepEqual(await slotStatus(guest), { booted: 'B', next: 'B', slots: { A: { version: '8.0', state: 'good' }, B: { version: NEXT_VERSION, state: 'good' } } });
    assert.equal(await services(), before, 'the services are those made before the update');
    assert.match(await c.check('ip -4 -o addr show dev eth0'), / inet 192\.168\.2\.31\/24 /);
    assert.match(await c.check('cat /etc/loadbalancer/model'), /^MODEL_ID=r20$/m);
  });
});
