/**
 * Every VM target built from the default appliance: each artifact unpacks, its disk
 * reads back identical to the raw disk through qemu-img and an independent reader, its
 * descriptor validates, and the disk boots on the controller and NIC its hypervisor
 * presents, with eth0 being the first NIC. The KVM domain is also defined and booted
 * through a private libvirtd.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { buildImage, REPO, TEST_CACHE, type ImageSummary } from './build-helpers.js';
import { TARGETS } from '../hypervisors/registry.js';
import { bootVm, GUEST_ADDRESS, kvmUsable, type DiskBus, type NicModel } from '../builder/vm/qemu.js';
import { BOOT_TIMEOUT_MS } from './checks.js';
import { SerialConsole } from '../builder/vm/console.js';
import { startPrivateLibvirtd } from './private-libvirtd.js';
import { freeUdpPorts, testDomainXml, udpSink } from './libvirt-test-domain.js';

const OVF_SCHEMA = path.resolve(REPO, '../shared/schemas/ovf/dsp8023_1.1.1.xsd');

interface Format {
  target: string;
  archive: string;
  disk: RegExp;
  /** qemu's name for the disk format. */
  qemu: 'vmdk' | 'vpc' | 'vhdx' | 'qcow2' | 'raw';
  /** The independent reader from Debian that must accept the disk. */
  reader?: string[];
  /** What the hypervisor presents (the closest QEMU device). */
  bus: DiskBus;
  nic: NicModel;
}

const FORMATS: Format[] = [
  // ESX's LSI Logic parallel controller (53C1030) has no QEMU model; its 53C895A is the nearest.
  { target: 'esx', archive: 'LBVMESXv8.zip', disk: /\.vmdk$/, qemu: 'vmdk', reader: ['vmdkinfo'], bus: 'lsi-scsi', nic: 'vmxnet3' },
  { target: 'esx-ovf09', archive: 'LBVMESXv8_ovf0.9.zip', disk: /\.vmdk$/, qemu: 'vmdk', reader: ['vmdkinfo'], bus: 'lsi-scsi', nic: 'e1000' },
  { target: 'vmware', archive: 'LBVMv8.zip', disk: /\.vmdk$/, qemu: 'vmdk', reader: ['vmdkinfo'], bus: 'lsi-scsi', nic: 'e1000' },
  { target: 'hyperv', archive: 'LBVMHYPER-V3v8.zip', disk: /\.vhdx$/, qemu: 'vhdx', reader: ['vhdiinfo'], bus: 'ide', nic: 'e1000' },
  { target: 'hyperv-legacy', archive: 'LBVMHYPER-Vv8.zip', disk: /\.vhd$/, qemu: 'vpc', reader: ['vhdiinfo'], bus: 'ide', nic: 'e1000' },
  { target: 'kvm', archive: 'LBVMKVMv8.tar.bz2', disk: /\.qcow2$/, qemu: 'qcow2', bus: 'virtio', nic: 'virtio-net-pci' },
  // XenServer HVM guests start on emulated IDE and an emulated NIC.
  { target: 'xen', archive: 'LBVMXENv8.zip', disk: /\.xva$/, qemu: 'raw', bus: 'ide', nic: 'rtl8139' },
];

let build: ImageSummary;
let work: string;
const rawDisk = () => build.artifacts.find((a) => a.file.endsWith('.raw'))!.file;
const artifact = (name: string) => {
  const found = build.artifacts.find((a) => path.basename(a.file) === name);
  assert.ok(found, `artifact ${name} built (have: ${build.artifacts.map((a) => path.basename(a.file)).join(', ')})`);
  return found.file;
};
const tool = async (command: string, args: string[], options: { cwd?: string } = {}) => {
  const result = await execa(command, args, { reject: false, all: true, ...options });
  assert.equal(result.exitCode, 0, `${command} ${args.join(' ')}:\n${result.all}`);
  return result.stdout;
};

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function sha(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Unpacks an artifact and returns the path of the disk a hypervisor would read. */
async function unpack(format: Format): Promise<{ dir: string; disk: string }> {
  const dir = path.join(work, format.target);
  await mkdir(dir);
  const archive = artifact(format.archive);
  if (archive.endsWith('.zip')) await tool('unzip', ['-q', archive, '-d', dir]);
  else await tool('tar', ['-xjf', archive, '-C', dir]);
  const disk = (await filesBelow(dir)).find((f) => format.disk.test(f));
  assert.ok(disk, `${format.archive} holds a disk matching ${format.disk}`);
  if (format.qemu !== 'raw') return { dir, disk };
  // The XVA: XenServer's import reads the blocks; xva-img exports them back to a raw disk.
  const blocks = path.join(dir, 'xva');
  await mkdir(blocks);
  await tool('tar', ['-xf', disk, '-C', blocks]);
  const ref = (await readdir(blocks)).find((n) => n.startsWith('Ref:'));
  assert.ok(ref, 'the XVA holds a Ref: disk folder');
  const exported = path.join(dir, 'exported.raw');
  await tool('xva-img', ['-p', 'disk-export', path.join(blocks, ref), exported]);
  return { dir, disk: exported };
}

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lbbuild-formats-'));
  // The update bundle is signed, and has its own test (update.test.ts) with a key of its own.
  const unsigned = TARGETS.filter((target) => !target.needsUpdateKey).map((target) => target.name);
  // The artifacts are the same bytes with or without the Lynis audit, which appliance.test.ts checks.
  build = await buildImage(['--target', unsigned.join(','), '--no-audit', '--out', path.join(work, 'out'), '--cache', TEST_CACHE]);
});

// Every artifact unpacked: about 10 GB.
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('every virtual machine target writes the artifact the guide names', () => {
  for (const format of FORMATS) artifact(format.archive);
  artifact('LBVMESXv8.ova');
});

test('the ESX OVF validates against the DMTF schema and its .mf digests match the files', async () => {
  const { dir } = { dir: path.join(work, 'esx-descriptor') };
  await mkdir(dir);
  await tool('unzip', ['-q', artifact('LBVMESXv8.zip'), '-d', dir]);
  const files = await filesBelow(dir);
  const ovf = files.find((f) => f.endsWith('.ovf'))!;
  await tool('xmllint', ['--noout', '--nonet', '--schema', OVF_SCHEMA, ovf]);
  const manifest = await readFile(files.find((f) => f.endsWith('.mf'))!, 'utf8');
  const lines = manifest.trim().split('\n');
  assert.ok(lines.length >= 2);
  for (const line of lines) {
    const [, name, digest] = /^SHA1\((.+)\)= ([0-9a-f]{40})$/.exec(line) ?? [];
    assert.ok(name && digest, `manifest line "${line}"`);
    assert.equal(await sha(path.join(path.dirname(ovf), name), 'sha1'), digest, name);
  }
  const descriptor = await readFile(ovf, 'utf8');
  const vmdk = files.find((f) => f.endsWith('.vmdk'))!;
  const file = /<File [^>]*>/.exec(descriptor)?.[0] ?? '';
  assert.ok(file.includes(`ovf:href="${path.basename(vmdk)}"`), `the OVF references the disk: ${file}`);
  assert.ok(file.includes(`ovf:size="${(await stat(vmdk)).size}"`), `with its real size: ${file}`);
  const ovaMembers = await tool('tar', ['-tf', artifact('LBVMESXv8.ova')]);
  assert.match(ovaMembers.split('\n')[0]!, /\.ovf$/, 'the OVA starts with its descriptor');
});

test('the KVM domain XML passes virt-xml-validate', async () => {
  const dir = path.join(work, 'kvm-descriptor');
  await mkdir(dir);
  await tool('tar', ['-xjf', artifact('LBVMKVMv8.tar.bz2'), '-C', dir]);
  const xml = (await filesBelow(dir)).find((f) => f.endsWith('.xml'));
  assert.ok(xml, 'the archive holds the domain XML');
  await tool('virt-xml-validate', [xml, 'domain']);
});

test('the KVM domain defined with virsh boots through libvirtd, eth0 being its first NIC', async () => {
  const dir = path.join(work, 'kvm-libvirt');
  await mkdir(dir);
  await tool('tar', ['-xjf', artifact('LBVMKVMv8.tar.bz2'), '-C', dir]);
  const files = await filesBelow(dir);
  const shipped = await readFile(files.find((f) => f.endsWith('.xml'))!, 'utf8');
  const name = /<name>([^<]+)<\/name>/.exec(shipped)?.[1];
  assert.ok(name, 'the domain has a name');
  const consoleSocket = path.join(dir, 'console.sock');
  const wire = await udpSink();
  const xml = path.join(dir, 'domain.xml');
  await writeFile(xml, testDomainXml(shipped, {
    domainType: kvmUsable() ? 'kvm' : 'qemu',
    diskPath: files.find((f) => f.endsWith('.qcow2'))!,
    consoleSocket,
    nicPorts: await freeUdpPorts(4),
    wirePort: wire.port,
  }));
  const libvirtd = await startPrivateLibvirtd(path.join(dir, 'libvirtd'));
  let socket: Socket | undefined;
  let serial: SerialConsole | undefined;
  try {
    await libvirtd.virsh(['define', xml]);
    await libvirtd.virsh(['start', name]);
    socket = connect(consoleSocket);
    await once(socket, 'connect');
    serial = new SerialConsole(socket, socket);
    await serial.expect('Welcome to the Loadbalancer.org appliance.', BOOT_TIMEOUT_MS);
    await serial.expect(/lbmaster login: $/m, 60_000);
    await serial.login('root', 'loadbalancer');
    await serial.prepareShell();
    // domiflist: a header, a rule, then one row per NIC in the domain's order, MAC last.
    const firstNic = (await libvirtd.virsh(['domiflist', name])).trim().split('\n')[2]!.trim().split(/\s+/).at(-1);
    assert.equal(await serial.check('cat /sys/class/net/eth0/address'), firstNic);
    assert.equal(await serial.check('ls /sys/class/net | grep -c "^eth"'), '4');
    assert.match(await serial.check('ip -4 -o addr show dev eth0'), new RegExp(` ${GUEST_ADDRESS.replaceAll('.', '\\.')}/24 `));
  } catch (error) {
    const transcript = serial?.transcript.split('\n').slice(-40).join('\n') ?? '';
    throw new Error(`${(error as Error).message}\n--- console ---\n${transcript}\n--- libvirtd ---\n${libvirtd.log()}`);
  } finally {
    socket?.destroy();
    await libvirtd.virsh(['destroy', name]).catch(() => undefined);
    await libvirtd.virsh(['undefine', name]).catch(() => undefined);
    await libvirtd.stop();
    wire.close();
  }
});

for (const format of FORMATS) {
  describe(`${format.target} (${format.archive})`, () => {
    let disk: string;
    test(`the ${format.qemu} disk reads back identical to the raw disk`, async () => {
      ({ disk } = await unpack(format));
      if (format.qemu !== 'vpc' && format.qemu !== 'raw') await tool('qemu-img', ['check', '-f', format.qemu, disk]);
      const info = JSON.parse(await tool('qemu-img', ['info', '--output=json', '-f', format.qemu, disk])) as { 'virtual-size': number };
      assert.equal(info['virtual-size'], (await stat(rawDisk())).size);
      await tool('qemu-img', ['compare', '-q', '-f', 'raw', '-F', format.qemu, rawDisk(), disk]);
      if (format.reader) await tool(format.reader[0]!, [...format.reader.slice(1), disk]);
    });
    test(`boots on ${format.bus} with ${format.nic} NICs, eth0 being the first`, async () => {
      assert.ok(disk, 'the disk was unpacked');
      const vm = await bootVm({ image: disk, format: format.qemu, diskBus: format.bus, nicModel: format.nic });
      try {
        await vm.console.expect('Welcome to the Loadbalancer.org appliance.', BOOT_TIMEOUT_MS);
        await vm.console.expect(/lbmaster login: $/m, 60_000);
        await vm.console.login('root', 'loadbalancer');
        await vm.console.prepareShell();
        assert.equal(await vm.console.check('cat /sys/class/net/eth0/address'), vm.mac(0));
        assert.match(await vm.console.check('ip -4 -o addr show dev eth0'), new RegExp(` ${GUEST_ADDRESS.replaceAll('.', '\\.')}/24 `));
        assert.equal(await vm.console.check('ls /sys/class/net | grep -c "^eth"'), '4');
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- console ---\n${vm.console.transcript.split('\n').slice(-40).join('\n')}`);
      } finally {
        await vm.stop();
      }
    });
  });
}
