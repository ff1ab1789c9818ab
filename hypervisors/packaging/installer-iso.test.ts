/**
 * The installer ISO as other tools read it: El Torito and the system area (xorriso's
 * report, isoinfo, sfdisk, mtools), the files on the medium (isoinfo), the initramfs (GNU
 * cpio), the GRUB menu (grub-script-check); two builds bit-identical; bad jobs refused with
 * nothing written. The medium is made from a small fake image and a fake kernel tree; GRUB's
 * two images, which need a GRUB module tree the host does not have, are stand-ins of the
 * right kind (the boot test boots the real ones).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { run, useTempDir } from '../writers/test-support.js';
import { INSTALLER_TOOLS, writeInstallerIso, type InstallerJob } from './installer-iso.js';
import { buildInstallerIso, type GrubBootMaker } from './installer/build.js';
import { grubMenu } from './installer/grub-boot.js';
import { INSTALLER_INIT, installerModules } from './installer/initramfs.js';
import { newcCpio, CpioEntryError } from './installer/newc-cpio.js';
import { InstallerJobError } from './installer/settings.js';
import { DEBIAN_PACKAGE_OF } from '../../builder/tools.js';

const dir = useTempDir('lbbuild-installer-iso-');
const EPOCH = 1764028800; // 2025-11-25 00:00:00 UTC
const KERNEL = '6.1.0-test';
const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Fixture {
  job: InstallerJob;
  makeBoot: GrubBootMaker;
  /** The stand-in GRUB files, as made. */
  boot: { eltorito: Buffer; hybridMbr: Buffer; efiLoader: Buffer };
  kernel: Buffer;
  modules: Record<string, Buffer>;
}

let fixture: Promise<Fixture> | undefined;

/** The fake kernel tree, image and GRUB files, made once. */
function made(): Promise<Fixture> {
  fixture ??= (async () => {
    const root = dir('root');
    const moduleDir = path.join(root, 'lib/modules', KERNEL);
    await mkdir(path.join(moduleDir, 'kernel/drivers/usb/storage'), { recursive: true });
    await mkdir(path.join(moduleDir, 'kernel/lib'), { recursive: true });
    await mkdir(path.join(root, 'boot'));
    const kernel = randomBytes(300_000);
    await writeFile(path.join(root, 'boot', `vmlinuz-${KERNEL}`), kernel);
    // usb-storage with a dependency that has one of its own, and an unrelated module.
    const modules: Record<string, Buffer> = {
      'kernel/drivers/usb/storage/usb-storage.ko': randomBytes(5000),
      'kernel/lib/first.ko': randomBytes(3000),
      'kernel/lib/second.ko': randomBytes(3001),
    };
    for (const [name, data] of Object.entries(modules)) await writeFile(path.join(moduleDir, name), data);
    await writeFile(
      path.join(moduleDir, 'modules.dep'),
      'kernel/lib/first.ko:\nkernel/lib/second.ko: kernel/lib/first.ko\nkernel/drivers/usb/storage/usb-storage.ko: kernel/lib/second.ko kernel/lib/first.ko\nkernel/net/other.ko:\n',
    );
    await writeFile(path.join(moduleDir, 'modules.builtin'), 'kernel/drivers/ata/ahci.ko\n');
    const disk = Buffer.concat([randomBytes(200_000), Buffer.alloc(3 * MiB - 200_000)]);
    await writeFile(dir('disk.raw'), disk);
    await execa('xz', ['-T1', '-3', '--check=crc32', '--keep', dir('disk.raw')]);
    const boot = { eltorito: randomBytes(64 * 1024), hybridMbr: Buffer.concat([randomBytes(440), Buffer.alloc(72)]), efiLoader: randomBytes(300_000) };
    const makeBoot: GrubBootMaker = async (_root, _volumeId, workDir) => {
      const files = { eltorito: path.join(workDir, 'eltorito.img'), hybridMbr: path.join(workDir, 'boot_hybrid.img'), efiLoader: path.join(workDir, 'BOOTX64.EFI') };
      for (const [name, file] of Object.entries(files)) await writeFile(file, boot[name as keyof typeof boot]);
      return files;
    };
    const job: InstallerJob = {
      image: dir('disk.raw.xz'),
      imageName: 'LBHW-T1-v8.0.img.xz',
      diskBytes: disk.length,
      diskSha256: sha256(disk),
      title: 'Loadbalancer.org Enterprise T1 v8.0',
      volumeId: 'LBHW_T1_8_0',
      root,
      kernelVersion: KERNEL,
      serialConsole: { port: 'ttyS1', baud: 57600 },
      epoch: EPOCH,
    };
    return { job, makeBoot, boot, kernel, modules };
  })();
  return fixture;
}

let built: Promise<string> | undefined;
function iso(): Promise<string> {
  built ??= made().then(({ job, makeBoot }) => buildInstallerIso(dir('installer.iso'), job, makeBoot));
  return built;
}

/** A file of the medium, read by isoinfo through Rock Ridge. */
async function mediumFile(file: string): Promise<Buffer> {
  const { stdout } = await execa('isoinfo', ['-R', '-i', await iso(), '-x', file], { encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout);
}

const isoinfo = async (...args: string[]) => run('isoinfo', ['-i', await iso(), ...args]);

test('the El Torito catalog has a BIOS entry (GRUB core, no emulation, 4 sectors) and a UEFI entry that is the ESP partition', async () => {
  const report = await run('xorriso', ['-indev', await iso(), '-report_el_torito', 'plain']);
  const entry = (n: number) => new RegExp(`^El Torito boot img : +${n} +(\\w+) +(\\w) +(\\w+) +0x0000 +0x00 +(\\d+) +(\\d+)$`, 'm').exec(report);
  const bios = entry(1);
  const uefi = entry(2);
  assert.ok(bios && uefi, report);
  assert.deepEqual(bios.slice(1, 5), ['BIOS', 'y', 'none', '4']);
  assert.deepEqual(uefi.slice(1, 4), ['UEFI', 'y', 'none']);
  assert.match(report, /^El Torito img path : +1 +\/boot\/grub\/i386-pc\/eltorito\.img$/m);
  assert.match(report, /^El Torito img opts : +1 +boot-info-table grub2-boot-info$/m);
  assert.match(report, /^El Torito cat path : +\/boot\/grub\/boot\.cat$/m);
  // isoinfo reads the catalog on its own: the default entry is the BIOS one, at the same block.
  const info = await isoinfo('-d');
  assert.match(info, /^Volume id: LBHW_T1_8_0$/m);
  assert.match(info, /^El Torito VD version 1 found/m);
  assert.match(info, /^NO Joliet present$/m, 'no Joliet: GRUB would search its 16-character volume id');
  assert.match(info, /^Rock Ridge signatures version 1 found$/m);
  const bootoff = /Bootoff +[0-9a-f]+ +(\d+)/.exec(info);
  assert.equal(Number(bootoff?.[1]), Number(bios[5]));
  // The GPT's ESP starts where the UEFI entry points (2 KiB blocks → 512-byte sectors).
  const { partitiontable } = JSON.parse(await run('sfdisk', ['--json', await iso()]));
  const esp = partitiontable.partitions.find((p: { type: string }) => p.type === 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  assert.equal(esp.start, Number(uefi[5]) * 4);
});

test('the system area: boot_hybrid.img as MBR code pointing at the BIOS core, an active MBR entry and a protective one, a GPT with the ISO and the ESP', async () => {
  const { boot, job } = await made();
  const medium = await readFile(await iso());
  const mbr = medium.subarray(0, 512);
  assert.ok(mbr.subarray(0, 0x1b0).equals(boot.hybridMbr.subarray(0, 0x1b0)), 'MBR code is boot_hybrid.img');
  const report = await run('xorriso', ['-indev', await iso(), '-report_el_torito', 'plain']);
  const biosLba = Number(/^El Torito boot img : +1 +BIOS .* (\d+)$/m.exec(report)![1]);
  assert.equal(mbr.readBigUInt64LE(0x1b0), BigInt(biosLba * 4 + 4), 'boot_hybrid.img loads core.img, 4 sectors into the El Torito image');
  assert.equal(mbr.readUInt16LE(510), 0xaa55);
  const entries = [0, 1, 2, 3].map((n) => ({ status: mbr[446 + n * 16]!, type: mbr[446 + n * 16 + 4]! }));
  assert.ok(entries.some((e) => e.type === 0xee && e.status === 0), `a protective 0xee entry in ${JSON.stringify(entries)}`);
  assert.ok(entries.some((e) => e.status === 0x80), `an active entry in ${JSON.stringify(entries)}`);

  const { partitiontable } = JSON.parse(await run('sfdisk', ['--json', await iso()]));
  assert.equal(partitiontable.label, 'gpt');
  const [isoPart, espPart] = partitiontable.partitions;
  assert.equal(isoPart.start, 64, 'the ISO as partition 1, from 64 sectors in (it mounts on its own)');
  assert.equal(isoPart.type, 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7');
  assert.equal(espPart.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  assert.equal(espPart.node, `${await iso()}2`);
  assert.ok((espPart.start + espPart.size) * 512 <= medium.length);
  // The ESP is a FAT with BOOTX64.EFI at the removable-media path, as built.
  const esp = dir('esp-read.img');
  await writeFile(esp, medium.subarray(espPart.start * 512, (espPart.start + espPart.size) * 512));
  assert.match(await run('mdir', ['-i', esp, '-b', '::/EFI/BOOT']), /^::\/EFI\/BOOT\/BOOTX64\.EFI$/m);
  const { stdout: loader } = await execa('mtype', ['-i', esp, '::/EFI/BOOT/BOOTX64.EFI'], { encoding: 'buffer', stripFinalNewline: false, env: { MTOOLS_SKIP_CHECK: '1' } });
  assert.ok(Buffer.from(loader).equals(boot.efiLoader), 'BOOTX64.EFI on the ESP is the loader');
  assert.equal(job.volumeId, /^Volume id: (.*)$/m.exec(await isoinfo('-d'))![1]);
});

test("the medium holds the menu, GRUB's BIOS core, the kernel, the initramfs and the image, every date the epoch", async () => {
  const { job, kernel } = await made();
  const listing = (await isoinfo('-R', '-f')).split('\n').sort();
  assert.deepEqual(listing, [
    '/LBHW-T1-v8.0.img.xz',
    '/boot',
    '/boot/grub',
    '/boot/grub/boot.cat',
    '/boot/grub/grub.cfg',
    '/boot/grub/i386-pc',
    '/boot/grub/i386-pc/eltorito.img',
    '/boot/initrd.img',
    '/boot/vmlinuz',
  ]);
  assert.equal(sha256(await mediumFile('/LBHW-T1-v8.0.img.xz')), sha256(await readFile(job.image)));
  assert.ok((await mediumFile('/boot/vmlinuz')).equals(kernel));
  assert.equal((await mediumFile('/boot/grub/grub.cfg')).toString(), grubMenu(job));
  // Every file and folder dated 2025-11-25: in Rock Ridge, owned by root and read-only; in the plain ISO 9660 records too.
  const records = async (...options: string[]) => (await isoinfo(...options)).split('\n').filter((line) => /^[d-][r-]/.test(line));
  const rockRidge = await records('-R', '-l');
  assert.ok(rockRidge.length >= 9, rockRidge.join('\n'));
  for (const record of rockRidge) assert.match(record, /^[d-]r-[x-]r-[x-]r-[x-] +\d+ +0 +0 +\d+ Nov 25 2025 /, record);
  const plain = await records('-l');
  assert.equal(plain.length, rockRidge.length);
  for (const record of plain) assert.match(record, / \d+ Nov 25 2025 \[/, record);
});

test('the initramfs: /init, a static busybox with its applet links, the settings, /dev/console and the modules in load order', async () => {
  const { job, modules } = await made();
  const initramfs = dir('initrd.img');
  await writeFile(initramfs, await mediumFile('/boot/initrd.img'));
  const cpio = async (...args: string[]) => (await execa('cpio', ['--quiet', ...args], { inputFile: initramfs, encoding: 'buffer', stripFinalNewline: false })).stdout;
  const listing = Buffer.from(await cpio('-itv')).toString().split('\n');
  const line = (name: string) => listing.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `));
  assert.match(line('init') ?? '', /^-rwxr-xr-x +1 root +root +\d+ Nov 25 +2025 init$/);
  assert.match(line('bin/busybox') ?? '', /^-rwxr-xr-x /);
  assert.match(line('bin/sh') ?? '', /^lrwxrwxrwx .* bin\/sh -> \/bin\/busybox$/);
  for (const applet of ['sbin/insmod', 'bin/mount', 'usr/bin/xzcat', 'usr/bin/sha256sum', 'bin/dd', 'sbin/reboot', 'usr/bin/setsid', 'bin/cttyhack', 'sbin/blockdev']) {
    assert.match(line(applet) ?? `${applet} missing`, / -> \/bin\/busybox$/, applet);
  }
  assert.match(line('dev/console') ?? '', /^crw------- +1 root +root +5, +1 /);
  assert.match(line('tmp') ?? '', /^drwxrwxrwt /);
  for (const folder of ['proc', 'sys', 'medium', 'dev', 'etc']) assert.match(line(folder) ?? `${folder} missing`, /^drwxr-xr-x /, folder);
  assert.ok(listing.every((l) => l === '' || / Nov 25 +2025 /.test(l)), 'every entry dated the epoch');
  assert.ok(Buffer.from(await cpio('-i', '--to-stdout', 'init')).equals(await readFile(INSTALLER_INIT)));
  const busybox = Buffer.from(await cpio('-i', '--to-stdout', 'bin/busybox'));
  assert.ok(!busybox.includes('/lib64/ld-linux-x86-64.so'), 'busybox is static');
  const order = ['kernel/lib/first.ko', 'kernel/lib/second.ko', 'kernel/drivers/usb/storage/usb-storage.ko'];
  for (const module of order) {
    assert.ok(Buffer.from(await cpio('-i', '--to-stdout', `lib/modules/${KERNEL}/${module}`)).equals(modules[module]!), module);
  }
  assert.equal(line(`lib/modules/${KERNEL}/kernel/net/other.ko`), undefined, 'only what usb-storage needs');
  assert.equal(
    Buffer.from(await cpio('-i', '--to-stdout', 'etc/lbinstall.conf')).toString(),
    [
      'LB_TITLE=Loadbalancer.org Enterprise T1 v8.0',
      'LB_VOLUME_ID=LBHW_T1_8_0',
      'LB_IMAGE_NAME=LBHW-T1-v8.0.img.xz',
      `LB_DISK_BYTES=${job.diskBytes}`,
      `LB_DISK_SHA256=${job.diskSha256}`,
      `LB_KERNEL_VERSION=${KERNEL}`,
      `LB_MODULES=${order.join(' ')}`,
      '',
    ].join('\n'),
  );
});

test('the installer script parses (busybox sh -n)', async () => {
  await run('busybox', ['sh', '-n', INSTALLER_INIT]);
});

test('two builds of the same job are bit-identical, whatever the inputs\' file times and the time of day', async () => {
  const { job, makeBoot } = await made();
  const first = await readFile(await iso());
  await delay(1100);
  const later = Date.now() / 1000;
  for (const file of [job.image, path.join(job.root, 'boot', `vmlinuz-${KERNEL}`), INSTALLER_INIT]) {
    const { atime } = await stat(file);
    await utimes(file, atime, later);
  }
  const again = await readFile(await buildInstallerIso(dir('again.iso'), job, makeBoot));
  assert.equal(again.length, first.length);
  assert.ok(again.equals(first), 'the second ISO has the same bytes');
  assert.deepEqual((await readdir(dir())).filter((name) => name.startsWith('.installer-iso-')), [], 'no scratch folder left');
});

test('the GRUB menu passes grub-script-check: the screen entry is the default, the serial one uses the model\'s port and speed', async () => {
  const { job } = await made();
  const menu = grubMenu(job);
  await writeFile(dir('grub.cfg'), menu);
  await run('grub-script-check', [dir('grub.cfg')]);
  assert.match(menu, /^serial --unit=1 --speed=57600$/m);
  assert.match(menu, /^terminal_input console serial$/m);
  assert.match(menu, /^terminal_output console serial$/m);
  assert.match(menu, /^set default=install-screen$/m);
  assert.match(menu, /^menuentry 'Install Loadbalancer\.org Enterprise T1 v8\.0 \(screen and keyboard\)' --id install-screen \{\n\tlinux \/boot\/vmlinuz console=ttyS1,57600n8 console=tty0 quiet\n\tinitrd \/boot\/initrd\.img\n\}$/m);
  assert.match(menu, /^menuentry 'Install Loadbalancer\.org Enterprise T1 v8\.0 \(serial console ttyS1\)' --id install-serial \{\n\tlinux \/boot\/vmlinuz console=tty0 console=ttyS1,57600n8 quiet\n\tinitrd \/boot\/initrd\.img\n\}$/m);
});

test('bad volume ids are refused, each naming the value and the rule, with nothing written', async () => {
  const { job } = await made();
  const cases: Array<[string, RegExp]> = [
    ['', /installer volumeId "": is empty; an ISO 9660 volume id has 1 to 32 characters/],
    ['LBHW_R20_8_0_WITH_A_VERY_LONG_NAME', /installer volumeId "LBHW_R20_8_0_WITH_A_VERY_LONG_NAME": has 34 characters; an ISO 9660 volume id has at most 32/],
    ['LBHW_r20', /installer volumeId "LBHW_r20": has "r" at position 6; an ISO 9660 volume id has only A-Z, 0-9 and _/],
    ['LBHW-R20', /installer volumeId "LBHW-R20": has "-" at position 5;/],
    ['LBHW R20', /installer volumeId "LBHW R20": has " " at position 5;/],
  ];
  for (const [volumeId, message] of cases) {
    const target = dir('refused.iso');
    await assert.rejects(writeInstallerIso(target, { ...job, volumeId }), (error: unknown) => {
      assert.ok(error instanceof InstallerJobError, String(error));
      assert.equal(error.field, 'volumeId');
      assert.equal(error.value, volumeId);
      assert.match(error.message, message);
      return true;
    });
    await assert.rejects(stat(target), { code: 'ENOENT' });
  }
  // 32 characters is the most there is room for.
  await buildInstallerIso(dir('longest.iso'), { ...job, volumeId: 'A'.repeat(32) }, (await made()).makeBoot);
  assert.match(await run('isoinfo', ['-d', '-i', dir('longest.iso')]), new RegExp(`^Volume id: ${'A'.repeat(32)}$`, 'm'));
});

test('other bad values are refused naming the field', async () => {
  const { job } = await made();
  const cases: Array<[Partial<InstallerJob>, string, RegExp]> = [
    [{ title: "It's the R20" }, 'title', /"It's the R20": must be 1 to 80 letters/],
    [{ imageName: 'disk.img' }, 'imageName', /ending in \.xz/],
    [{ imageName: '../x.img.xz' }, 'imageName', /"\.\.\/x\.img\.xz"/],
    [{ diskBytes: 1000 }, 'diskBytes', /1000: must be a positive whole number of 512-byte sectors/],
    [{ diskSha256: 'ABC' }, 'diskSha256', /"ABC": must be 64 lower-case hex digits/],
    [{ serialConsole: { port: 'ttyUSB0', baud: 115200 } }, 'serialConsole.port', /"ttyUSB0": is not a serial port name ttyS0 to ttyS99/],
    [{ serialConsole: { port: 'ttyS0', baud: 12345 } }, 'serialConsole.baud', /12345: is not one of 9600, 19200, 38400, 57600, 115200/],
    [{ epoch: -1 }, 'epoch', /-1: must be whole seconds/],
    [{ image: dir('no-such.img.xz') }, 'image', /no-such\.img\.xz": is not a file/],
    [{ kernelVersion: '6.1.0-other' }, 'root', /boot\/vmlinuz-6\.1\.0-other": is not a file/],
  ];
  for (const [change, field, message] of cases) {
    await assert.rejects(writeInstallerIso(dir('refused.iso'), { ...job, ...change }), (error: unknown) => {
      assert.ok(error instanceof InstallerJobError, String(error));
      assert.equal(error.field, field);
      assert.match(error.message, message);
      return true;
    });
  }
});

test('a failure on the way leaves nothing at the ISO path, not even an older file, and no scratch folder', async () => {
  const { job, makeBoot } = await made();
  const target = dir('failed', 'installer.iso');
  await mkdir(path.dirname(target));
  await writeFile(target, 'an older build');
  // The real GRUB step: this fake root has no GRUB modules.
  await assert.rejects(writeInstallerIso(target, job), /the appliance's GRUB has no usr\/lib\/grub\/i386-pc\/cdboot\.img/);
  await assert.rejects(stat(target), { code: 'ENOENT' });
  // xorriso itself failing: an El Torito image it cannot patch (GRUB's boot info needs 2.5 KiB).
  const tooShort: GrubBootMaker = async (root, volumeId, workDir) => {
    const files = await makeBoot(root, volumeId, workDir);
    await writeFile(files.eltorito, randomBytes(100));
    return files;
  };
  await assert.rejects(buildInstallerIso(target, job, tooShort), /xorriso exited with status/);
  await assert.rejects(stat(target), { code: 'ENOENT' });
  assert.deepEqual(await readdir(path.dirname(target)), []);
});

test('usb-storage and its dependencies are found in modules.dep, dependencies first; a kernel without it is refused', async () => {
  const { job } = await made();
  assert.deepEqual(await installerModules(job.root, KERNEL), ['kernel/lib/first.ko', 'kernel/lib/second.ko', 'kernel/drivers/usb/storage/usb-storage.ko']);
  const other = dir('root-without', 'lib/modules', KERNEL);
  await mkdir(other, { recursive: true });
  await writeFile(path.join(other, 'modules.dep'), 'kernel/lib/first.ko:\n');
  await writeFile(path.join(other, 'modules.builtin'), '');
  await assert.rejects(installerModules(dir('root-without'), KERNEL), /has kernel\/drivers\/usb\/storage\/usb-storage\.ko neither as a module \(modules\.dep\) nor built in/);
  await writeFile(path.join(other, 'modules.builtin'), 'kernel/drivers/usb/storage/usb-storage.ko\n');
  assert.deepEqual(await installerModules(dir('root-without'), KERNEL), [], 'built in: nothing to load');
});

test('the cpio encoder refuses entries the kernel would unpack wrongly', () => {
  const all = (entries: Parameters<typeof newcCpio>[0]) => [...newcCpio(entries, EPOCH)];
  assert.throws(() => all([{ kind: 'file', name: 'etc/x', mode: 0o644, data: Buffer.alloc(1) }]), CpioEntryError, 'a file before its folder');
  assert.throws(() => all([{ kind: 'dir', name: 'a', mode: 0o755 }, { kind: 'dir', name: 'a', mode: 0o755 }]), /given twice/);
  assert.throws(() => all([{ kind: 'dir', name: '/abs', mode: 0o755 }]), /not a relative path/);
  assert.throws(() => all([{ kind: 'dir', name: 'a/../b', mode: 0o755 }]), /not a relative path/);
  assert.throws(() => all([{ kind: 'file', name: 'x', mode: 0o10000, data: Buffer.alloc(0) }]), /mode must be permission bits/);
  assert.throws(() => [...newcCpio([], -1)], /cpio mtime must be an integer/);
});

test('the host tools it runs are known to the tool check', () => {
  for (const tool of INSTALLER_TOOLS) assert.ok(tool in DEBIAN_PACKAGE_OF, tool);
  assert.equal(DEBIAN_PACKAGE_OF.busybox, 'busybox-static');
  assert.equal(DEBIAN_PACKAGE_OF.xorriso, 'xorriso');
});
