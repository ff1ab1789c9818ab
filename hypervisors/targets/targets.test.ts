/**
 * Every virtual machine target built from one small synthetic raw disk with
 * `buildTargets`, as `lbbuild image` does, and checked with independent tools:
 * unzip, tar and bzip2 for the archives, qemu-img, libvhdi and libvmdk for the
 * disks, xva-img for the XVA, xmllint against the DMTF schema for OVF 1.0 and
 * virt-xml-validate for the libvirt domain. A missing tool fails its test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { buildImage } from '../../builder/build.js';
import { MissingToolsError, UserError } from '../../builder/errors.js';
import { loadRecipe } from '../../builder/recipe/load.js';
import type { Recipe } from '../../builder/recipe/schema.js';
import { buildTargets } from '../build-targets.js';
import { selectTargets, TARGETS } from '../registry.js';
import type { Extent } from '../../builder/disk/sparse-copy.js';

const REPO = path.resolve(import.meta.dirname, '../..');
// CI lays shared/ beside the clone.
const OVF_SCHEMA = path.resolve(REPO, '../shared/schemas/ovf/dsp8023_1.1.1.xsd');
const EPOCH = 1764028800;
const MiB = 1024 * 1024;
const DISK_SIZE = 64 * MiB;
/** Where the synthetic disk holds data: a boot sector's worth of noise, a few file blocks, text across the 32 MiB VMDK grain-table boundary, and the last MiB. */
const EXTENTS: Extent[] = [
  [0, MiB],
  [5 * MiB + 4096, 4096],
  [31 * MiB, 2 * MiB],
  [63 * MiB, MiB],
];

const EXPECTED_ARTIFACTS = [
  'LBVMESXv8.ova',
  'LBVMESXv8.zip',
  'LBVMESXv8_ovf0.9.zip',
  'LBVMHYPER-V3v8.zip',
  'LBVMHYPER-Vv8.zip',
  'LBVMKVMv8.tar.bz2',
  'LBVMXENv8.zip',
  'LBVMv8.zip',
  'Loadbalancer.org_VA_V8.0.raw',
];

let scratch: string;
let rawDisk: string;
let recipe: Recipe;
/** Artifact file name → path, from the first build. */
let artifacts: Map<string, string>;
/** Each archive extracted into its own folder. */
let extracted: string;

before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'lbbuild-targets-'));
  rawDisk = path.join(scratch, 'disk.raw');
  await makeRawDisk(rawDisk);
  recipe = (await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'))).recipe;
  artifacts = await buildAll('first');
  extracted = path.join(scratch, 'extracted');
  for (const [name, file] of artifacts) {
    const dir = path.join(extracted, name);
    await mkdir(dir, { recursive: true });
    if (name.endsWith('.zip')) await run('unzip', ['-q', file, '-d', dir]);
    else if (name.endsWith('.tar.bz2')) await run('tar', ['-xjf', file, '-C', dir]);
    else if (name.endsWith('.ova')) await run('tar', ['-xf', file, '-C', dir]);
  }
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('targets', () => {
  test('every target is built, with the names the guide gives the downloads', () => {
    assert.deepEqual([...artifacts.keys()].sort(), EXPECTED_ARTIFACTS);
  });

  test('each archive holds the files the guide describes, in a fixed order', async () => {
    const zipMembers = async (name: string) => (await run('unzip', ['-Z1', artifacts.get(name)!])).split('\n');
    assert.deepEqual(await zipMembers('LBVMESXv8.zip'), ['LBVMESXv8/LBVMESXv8.ovf', 'LBVMESXv8/LBVMESXv8.mf', 'LBVMESXv8/LBVMESXv8-disk1.vmdk']);
    assert.deepEqual(await zipMembers('LBVMESXv8_ovf0.9.zip'), [
      'LBVMESXv8_ovf0.9/LBVMESXv8.ovf',
      'LBVMESXv8_ovf0.9/LBVMESXv8.mf',
      'LBVMESXv8_ovf0.9/LBVMESXv8-disk1.vmdk',
    ]);
    assert.deepEqual(await zipMembers('LBVMv8.zip'), ['LBVMv8/LBVMv8.vmx', 'LBVMv8/LBVMv8.vmdk']);
    assert.deepEqual(await zipMembers('LBVMHYPER-V3v8.zip'), [
      'LBVMHYPER-V3v8/README.txt',
      'LBVMHYPER-V3v8/New-ApplianceVM.ps1',
      'LBVMHYPER-V3v8/LBVMHYPER-V3v8.vhdx',
    ]);
    assert.deepEqual(await zipMembers('LBVMHYPER-Vv8.zip'), [
      'LBVMHYPER-Vv8/README.txt',
      'LBVMHYPER-Vv8/New-ApplianceVM.ps1',
      'LBVMHYPER-Vv8/LBVMHYPER-Vv8.vhd',
    ]);
    assert.deepEqual(await zipMembers('LBVMXENv8.zip'), ['Loadbalancer.org_VA_V8.0.xva']);
    assert.deepEqual((await run('tar', ['-tjf', artifacts.get('LBVMKVMv8.tar.bz2')!])).split('\n'), [
      'Loadbalancer.org_VA_V8.0.xml',
      'Loadbalancer.org_VA_V8.0.qcow2',
    ]);
    // The .ovf first: importers read the descriptor before anything else.
    assert.deepEqual((await run('tar', ['-tf', artifacts.get('LBVMESXv8.ova')!])).split('\n'), [
      'LBVMESXv8.ovf',
      'LBVMESXv8.mf',
      'LBVMESXv8-disk1.vmdk',
    ]);
  });

  test('archive members carry the build epoch, mode 0644 and no owner', async () => {
    const listing = await run('tar', ['--numeric-owner', '--full-time', '-tvf', artifacts.get('LBVMESXv8.ova')!], { TZ: 'UTC' });
    for (const line of listing.split('\n')) assert.match(line, /^-rw-r--r-- 0\/0 +\d+ 2025-11-25 00:00:00 /);
    const zipListing = await run('unzip', ['-Zl', artifacts.get('LBVMv8.zip')!]);
    for (const line of zipListing.split('\n').filter((l) => l.startsWith('-'))) {
      assert.match(line, /^-rw-r--r-- .* unx .* 25-Nov-25 00:00 /);
    }
  });

  test('every VM disk reads back as the raw disk (qemu-img check and compare, libvmdk, libvhdi)', async () => {
    const disks: Array<[file: string, format: string]> = [
      ['LBVMESXv8.zip/LBVMESXv8/LBVMESXv8-disk1.vmdk', 'vmdk'],
      ['LBVMESXv8.ova/LBVMESXv8-disk1.vmdk', 'vmdk'],
      ['LBVMESXv8_ovf0.9.zip/LBVMESXv8_ovf0.9/LBVMESXv8-disk1.vmdk', 'vmdk'],
      ['LBVMv8.zip/LBVMv8/LBVMv8.vmdk', 'vmdk'],
      ['LBVMHYPER-V3v8.zip/LBVMHYPER-V3v8/LBVMHYPER-V3v8.vhdx', 'vhdx'],
      ['LBVMHYPER-Vv8.zip/LBVMHYPER-Vv8/LBVMHYPER-Vv8.vhd', 'vpc'],
      ['LBVMKVMv8.tar.bz2/Loadbalancer.org_VA_V8.0.qcow2', 'qcow2'],
    ];
    for (const [relative, format] of disks) {
      const file = path.join(extracted, relative);
      // qemu-img has no check for vpc; libvhdi reads it below.
      if (format !== 'vpc') assert.match(await run('qemu-img', ['check', '-f', format, file]), /No errors were found/, relative);
      assert.match(await run('qemu-img', ['compare', '-f', format, '-F', 'raw', file, rawDisk]), /Images are identical/, relative);
      const info = JSON.parse(await run('qemu-img', ['info', '-f', format, '--output=json', file]));
      assert.equal(info['virtual-size'], DISK_SIZE, relative);
    }
    const streamVmdk = path.join(extracted, 'LBVMESXv8.zip/LBVMESXv8/LBVMESXv8-disk1.vmdk');
    const sparseVmdk = path.join(extracted, 'LBVMv8.zip/LBVMv8/LBVMv8.vmdk');
    const mediaSize = new RegExp(`Media size:\\s*.*\\(${DISK_SIZE} bytes\\)`);
    assert.match(await run('vmdkinfo', [streamVmdk]), /Disk type:\s*Stream optimized\n/);
    assert.match(await run('vmdkinfo', [streamVmdk]), mediaSize);
    assert.match(await run('vmdkinfo', [sparseVmdk]), /Disk type:\s*Monolithic sparse\n/);
    assert.match(await run('vmdkinfo', [sparseVmdk]), mediaSize);
    const vhdiinfo = await run('vhdiinfo', [path.join(extracted, 'LBVMHYPER-Vv8.zip/LBVMHYPER-Vv8/LBVMHYPER-Vv8.vhd')]);
    assert.match(vhdiinfo, /Disk type\s*:\s*Dynamic/);
    assert.match(vhdiinfo, new RegExp(`Media size\\s*:.*\\(${DISK_SIZE} bytes\\)`));
  });

  test('the XVA exports back to the raw disk with xva-img', async () => {
    const blocks = path.join(scratch, 'xva-blocks');
    await mkdir(blocks);
    await run('tar', ['-xf', path.join(extracted, 'LBVMXENv8.zip/Loadbalancer.org_VA_V8.0.xva'), '-C', blocks]);
    assert.deepEqual((await readdir(blocks)).sort(), ['Ref:4', 'ova.xml']);
    const members = (await readdir(path.join(blocks, 'Ref:4'))).sort();
    const dataBlocks = members.filter((name) => !name.endsWith('.checksum'));
    assert.deepEqual(dataBlocks, ['00000000', '00000005', '00000031', '00000032', '00000063'], 'blocks of zeros are left out');
    assert.deepEqual(members, dataBlocks.flatMap((name) => [name, `${name}.checksum`]));
    for (const name of dataBlocks) {
      const checksum = await readFile(path.join(blocks, 'Ref:4', `${name}.checksum`), 'utf8');
      assert.equal(checksum, await sha1(path.join(blocks, 'Ref:4', name)), `checksum of block ${name}`);
    }
    const exported = path.join(scratch, 'xva-export.raw');
    await run('xva-img', ['disk-export', path.join(blocks, 'Ref:4'), exported]);
    assert.match(await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', exported, rawDisk]), /Images are identical/);
  });

  test('the OVF 1.0 validates against the DMTF schema and its manifest matches every file', async () => {
    const folder = path.join(extracted, 'LBVMESXv8.zip/LBVMESXv8');
    await run('xmllint', ['--noout', '--nonet', '--schema', OVF_SCHEMA, path.join(folder, 'LBVMESXv8.ovf')]);
    await assertManifestMatches(folder, 'LBVMESXv8');
    const populated = Number(await xpath(path.join(folder, 'LBVMESXv8.ovf'), "string(//*[local-name()='Disk']/@*[local-name()='populatedSize'])"));
    assert.equal(populated, 5 * MiB, 'populatedSize counts the MiB chunks that hold data');
  });

  test('the OVF 0.9 is well-formed, in its own namespace, and its manifest matches every file', async () => {
    const folder = path.join(extracted, 'LBVMESXv8_ovf0.9.zip/LBVMESXv8_ovf0.9');
    const ovf = path.join(folder, 'LBVMESXv8.ovf');
    await run('xmllint', ['--noout', '--nonet', ovf]);
    assert.equal(await xpath(ovf, 'namespace-uri(/*)'), 'http://www.vmware.com/schema/ovf/1/envelope');
    assert.equal(await xpath(ovf, "string(//*[local-name()='VirtualSystemType'])"), 'vmx-04');
    await assertManifestMatches(folder, 'LBVMESXv8');
  });

  test('the OVA holds the same package as the ESX zip', async () => {
    for (const name of ['LBVMESXv8.ovf', 'LBVMESXv8.mf', 'LBVMESXv8-disk1.vmdk']) {
      const inOva = await sha1(path.join(extracted, 'LBVMESXv8.ova', name));
      assert.equal(inOva, await sha1(path.join(extracted, 'LBVMESXv8.zip/LBVMESXv8', name)), name);
    }
  });

  test('the libvirt domain passes virt-xml-validate and points at the extracted qcow2', async () => {
    const xml = path.join(extracted, 'LBVMKVMv8.tar.bz2/Loadbalancer.org_VA_V8.0.xml');
    await run('virt-xml-validate', [xml, 'domain']);
    assert.equal(await xpath(xml, 'string(//disk/source/@file)'), '/var/lib/libvirt/images/Loadbalancer.org_VA_V8.0.qcow2');
    assert.equal(await xpath(xml, 'string(//disk/driver/@type)'), 'qcow2');
    assert.match(await xpath(xml, 'string(/domain/name)'), /^Loadbalancer/, 'the guide runs "virsh start Loadbalancer*"');
    assert.deepEqual(await xpaths(xml, '//interface/link/@state', 4), ['up', 'down', 'down', 'down']);
  });

  test("every descriptor carries the recipe's CPUs, memory and network adapters", async () => {
    const { cpus, memoryMiB } = recipe.vm;
    assert.equal(recipe.network.nics, 4);

    const vmx = await readFile(path.join(extracted, 'LBVMv8.zip/LBVMv8/LBVMv8.vmx'), 'utf8');
    assert.match(vmx, new RegExp(`^numvcpus = "${cpus}"$`, 'm'));
    assert.match(vmx, new RegExp(`^memsize = "${memoryMiB}"$`, 'm'));
    assert.match(vmx, /^virtualHW\.version = "4"$/m);
    assert.deepEqual(vmx.match(/^ethernet\d\.virtualDev = .*$/gm), [0, 1, 2, 3].map((i) => `ethernet${i}.virtualDev = "e1000"`));
    assert.deepEqual(vmx.match(/^ethernet\d\.startConnected = .*$/gm), [0, 1, 2, 3].map((i) => `ethernet${i}.startConnected = "${i === 0 ? 'TRUE' : 'FALSE'}"`));

    const rasd = (ovf: string, type: number, field: string) =>
      xpath(ovf, `string(//*[local-name()='Item'][*[local-name()='ResourceType']='${type}']/*[local-name()='${field}'])`);
    const nicTypes = (ovf: string) => xpaths(ovf, "//*[local-name()='Item'][*[local-name()='ResourceType']='10']/*[local-name()='ResourceSubType']", 4);
    const ovf10 = path.join(extracted, 'LBVMESXv8.zip/LBVMESXv8/LBVMESXv8.ovf');
    assert.equal(await rasd(ovf10, 3, 'VirtualQuantity'), String(cpus));
    assert.equal(await rasd(ovf10, 4, 'VirtualQuantity'), String(memoryMiB));
    assert.equal(await rasd(ovf10, 6, 'ResourceSubType'), 'lsilogic');
    assert.equal(await xpath(ovf10, "string(//*[local-name()='VirtualSystemType'])"), 'vmx-07');
    assert.deepEqual(await nicTypes(ovf10), ['VmxNet3', 'VmxNet3', 'VmxNet3', 'VmxNet3']);
    const connected = "//*[local-name()='Item'][*[local-name()='ResourceType']='10']/*[local-name()='AutomaticAllocation']";
    assert.deepEqual(await xpaths(ovf10, connected, 4), ['true', 'false', 'false', 'false']);
    const ovf09 = path.join(extracted, 'LBVMESXv8_ovf0.9.zip/LBVMESXv8_ovf0.9/LBVMESXv8.ovf');
    assert.equal(await rasd(ovf09, 3, 'VirtualQuantity'), String(cpus));
    assert.equal(await rasd(ovf09, 4, 'VirtualQuantity'), String(memoryMiB));
    assert.deepEqual(await nicTypes(ovf09), ['E1000', 'E1000', 'E1000', 'E1000']);

    const kvmXml = path.join(extracted, 'LBVMKVMv8.tar.bz2/Loadbalancer.org_VA_V8.0.xml');
    assert.equal(await xpath(kvmXml, 'string(/domain/vcpu)'), String(cpus));
    assert.equal(await xpath(kvmXml, 'string(/domain/memory)'), String(memoryMiB));
    assert.equal(await xpath(kvmXml, 'string(/domain/memory/@unit)'), 'MiB');
    assert.equal(await xpath(kvmXml, "string(//interface[1]/source/@network)"), 'default');
    assert.equal(await xpath(kvmXml, "count(//serial) + count(//console[target/@type='serial'])"), '2');

    for (const folder of ['LBVMHYPER-V3v8.zip/LBVMHYPER-V3v8', 'LBVMHYPER-Vv8.zip/LBVMHYPER-Vv8']) {
      const script = await readFile(path.join(extracted, folder, 'New-ApplianceVM.ps1'), 'utf8');
      assert.match(script, new RegExp(`^Set-VMProcessor -VM \\$vm -Count ${cpus}\\r$`, 'm'), folder);
      assert.match(script, new RegExp(`MemoryStartupBytes = ${memoryMiB}MB;`), folder);
      assert.match(script, /\$newVm\.Generation = 1/, folder);
      // New-VM makes the first adapter, connected to the switch; these add the other three.
      assert.equal(script.match(/^Add-VMNetworkAdapter /gm)?.length, 3, folder);
      assert.match(script, /-Path \$disk\r$/m, folder);
    }

    const ovaXml = path.join(scratch, 'xva-blocks/ova.xml');
    const snapshotField = (cls: string, field: string) =>
      `//struct[member[name='class']/value='${cls}']/member[name='snapshot']/value/struct/member[name='${field}']/value`;
    assert.equal(await xpath(ovaXml, `string(${snapshotField('VM', 'VCPUs_max')})`), String(cpus));
    assert.equal(await xpath(ovaXml, `string(${snapshotField('VM', 'memory_static_max')})`), String(memoryMiB * MiB));
    assert.equal(await xpath(ovaXml, "count(//struct[member[name='class']/value='VIF'])"), '4');
    assert.equal(await xpath(ovaXml, `string(${snapshotField('VDI', 'virtual_size')})`), String(DISK_SIZE));
  });

  test("each record's virtual hardware is what its descriptor and its disk declare", async () => {
    const hardware = (name: string) => TARGETS.find((t) => t.name === name)!.hardware!;
    const item = (type: number, field: string) => `//*[local-name()='Item'][*[local-name()='ResourceType']='${type}']/*[local-name()='${field}']`;
    const ovfs: Array<[target: string, folder: string]> = [
      ['esx', 'LBVMESXv8.zip/LBVMESXv8'],
      ['esx-ovf09', 'LBVMESXv8_ovf0.9.zip/LBVMESXv8_ovf0.9'],
    ];
    for (const [target, folder] of ovfs) {
      const { nic, diskController, hardwareVersion } = hardware(target);
      const ovf = path.join(extracted, folder, 'LBVMESXv8.ovf');
      assert.equal(await xpath(ovf, "string(//*[local-name()='VirtualSystemType'])"), `vmx-0${hardwareVersion}`, target);
      assert.deepEqual((await xpaths(ovf, item(10, 'ResourceSubType'))).map((t) => t.toLowerCase()), [nic, nic, nic, nic], target);
      assert.equal(await xpath(ovf, `string(${item(6, 'ResourceSubType')})`), diskController, target);
      await assertVmdkDeclares(path.join(extracted, folder, 'LBVMESXv8-disk1.vmdk'), diskController, hardwareVersion!);
    }

    const vmware = hardware('vmware');
    const vmx = await readFile(path.join(extracted, 'LBVMv8.zip/LBVMv8/LBVMv8.vmx'), 'utf8');
    assert.match(vmx, new RegExp(`^virtualHW\\.version = "${vmware.hardwareVersion}"$`, 'm'));
    assert.match(vmx, new RegExp(`^scsi0\\.virtualDev = "${vmware.diskController}"$`, 'm'));
    assert.match(vmx, new RegExp(`^ethernet0\\.virtualDev = "${vmware.nic}"$`, 'm'));
    await assertVmdkDeclares(path.join(extracted, 'LBVMv8.zip/LBVMv8/LBVMv8.vmdk'), vmware.diskController, vmware.hardwareVersion!);

    const kvm = hardware('kvm');
    const domain = path.join(extracted, 'LBVMKVMv8.tar.bz2/Loadbalancer.org_VA_V8.0.xml');
    assert.deepEqual(await xpaths(domain, '//interface/model/@type', 4), [kvm.nic, kvm.nic, kvm.nic, kvm.nic]);
    assert.equal(await xpath(domain, 'string(//disk/target/@bus)'), kvm.diskController);

    for (const [target, folder] of [['hyperv', 'LBVMHYPER-V3v8.zip/LBVMHYPER-V3v8'], ['hyperv-legacy', 'LBVMHYPER-Vv8.zip/LBVMHYPER-Vv8']]) {
      const script = await readFile(path.join(extracted, folder!, 'New-ApplianceVM.ps1'), 'utf8');
      assert.equal(hardware(target!).diskController, 'ide');
      assert.match(script, /^Add-VMHardDiskDrive -VM \$vm -ControllerType IDE /m, target);
    }
  });

  test('a second build gives bit-identical artifacts', async () => {
    const again = await buildAll('second');
    assert.deepEqual([...again.keys()].sort(), [...artifacts.keys()].sort());
    for (const [name, file] of artifacts) assert.equal(await sha1(again.get(name)!), await sha1(file), name);
  });

  test('an unknown target is refused with the list of valid ones', () => {
    assert.throws(() => selectTargets('esx,vbox'), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.message, '--target: unknown target "vbox"; valid targets: raw, esx, esx-ovf09, vmware, hyperv, hyperv-legacy, kvm, xen, update, physical-r20, physical-max, physical-10g, physical-r320, all');
      return true;
    });
    assert.deepEqual(selectTargets('esx, kvm,esx').map((t) => t.name), ['esx', 'kvm']);
  });

  test('a target whose packaging tool is missing is refused when it is selected', () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(scratch, 'no-tools-here');
    try {
      assert.throws(() => selectTargets('kvm'), (error: Error) => error instanceof MissingToolsError && /bzip2 \(Debian package bzip2\)/.test(error.message));
      assert.doesNotThrow(() => selectTargets('esx'));
    } finally {
      process.env.PATH = saved;
    }
  });

  test('a disk larger than VHD allows is refused before anything is written', async () => {
    const limits = Object.fromEntries(TARGETS.map((t) => [t.name, t.maxDiskSize]));
    assert.equal(limits['hyperv-legacy'], 2040 * 1024 * MiB);
    assert.equal(limits['xen'], 2040 * 1024 * MiB);
    assert.ok(limits['hyperv']! > 2041 * 1024 * MiB, 'VHDX takes larger disks');

    const project = path.join(scratch, 'big-disk-project');
    for (const part of ['recipes', 'overlays']) await cp(path.join(REPO, part), path.join(project, part), { recursive: true });
    const recipeFile = path.join(project, 'recipes/big.yaml');
    await writeFile(recipeFile, 'extends: appliance.yaml\ndisk:\n  size: 2041GiB\n');
    const outDir = path.join(project, 'out');
    await assert.rejects(
      buildImage({ recipeFile, targets: 'kvm,hyperv-legacy', outDir, cacheDir: path.join(project, 'cache'), progress: 'silent' }),
      (error: Error) => error instanceof UserError && /big\.yaml:3:\d+: disk\.size: is 2041GiB, but target hyperv-legacy takes disks of at most 2040 GiB/.test(error.message),
    );
    await assert.rejects(stat(outDir), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(project, 'cache')), { code: 'ENOENT' });
  });
});

async function buildAll(name: string): Promise<Map<string, string>> {
  const staging = path.join(scratch, name);
  await mkdir(staging);
  const built = await buildTargets({
    // The update bundle (a partition of the real layout, signed) has tests of its own.
    targets: selectTargets(TARGETS.filter((t) => !t.needsUpdateKey).map((t) => t.name).join(',')),
    recipe,
    epoch: EPOCH,
    rawDisk,
    extents: EXTENTS,
    diskSize: DISK_SIZE,
    staging,
    log: () => undefined,
  });
  return new Map(built.map((file) => [path.basename(file), file]));
}

/** A sparse raw disk with data only in EXTENTS: noise, text and zeros mixed, as a file system leaves them. */
async function makeRawDisk(file: string): Promise<void> {
  const disk = await open(file, 'w');
  try {
    await disk.truncate(DISK_SIZE);
    for (const [i, [offset, length]] of EXTENTS.entries()) {
      const data = i % 2 === 0 ? noise(length, i) : Buffer.from('lbbuild test data\n'.repeat(length).slice(0, length));
      await disk.write(data, 0, length, offset);
    }
  } finally {
    await disk.close();
  }
}

/** Incompressible bytes, the same on every run. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, n = 0; at < length; at += 32, n++) createHash('sha256').update(`${seed}:${n}`).digest().copy(out, at);
  return out;
}

/** The .mf lists the .ovf and every File of its References, with their SHA-1, and each File has its ovf:size. */
async function assertManifestMatches(folder: string, base: string): Promise<void> {
  const ovf = path.join(folder, `${base}.ovf`);
  const manifest = new Map(
    (await readFile(path.join(folder, `${base}.mf`), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => {
        const match = /^SHA1\((.+)\)= ([0-9a-f]{40})$/.exec(line);
        assert.ok(match, `manifest line ${JSON.stringify(line)}`);
        return [match[1]!, match[2]!] as const;
      }),
  );
  const files = await xpaths(ovf, "//*[local-name()='References']/*[local-name()='File']/@*[local-name()='href']");
  const sizes = await xpaths(ovf, "//*[local-name()='References']/*[local-name()='File']/@*[local-name()='size']");
  assert.ok(files.length > 0);
  assert.deepEqual([...manifest.keys()], [`${base}.ovf`, ...files]);
  assert.equal(manifest.get(`${base}.ovf`), await sha1(ovf));
  for (const [i, href] of files.entries()) {
    const file = path.join(folder, href);
    assert.equal((await stat(file)).size, Number(sizes[i]), `ovf:size of ${href}`);
    assert.equal(manifest.get(href), await sha1(file), `SHA-1 of ${href}`);
  }
}

/** The VMDK's embedded descriptor names the controller and hardware version its target declares. */
async function assertVmdkDeclares(vmdk: string, diskController: string, hardwareVersion: number): Promise<void> {
  const head = (await readFile(vmdk)).subarray(0, 64 * 1024).toString('latin1');
  assert.match(head, new RegExp(`^ddb\\.adapterType = "${diskController}"$`, 'm'), vmdk);
  assert.match(head, new RegExp(`^ddb\\.virtualHWVersion = "${hardwareVersion}"$`, 'm'), vmdk);
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return (await execa(cmd, args, { env: { LC_ALL: 'C', ...env } })).stdout;
}

async function xpath(file: string, expression: string): Promise<string> {
  return (await run('xmllint', ['--nonet', '--xpath', expression, file])).trim();
}

/** The string value of each node `expression` selects; `count` of them when given. */
async function xpaths(file: string, expression: string, count?: number): Promise<string[]> {
  const n = Number(await xpath(file, `count(${expression})`));
  if (count !== undefined) assert.equal(n, count, `count(${expression})`);
  return Promise.all(Array.from({ length: n }, (_, i) => xpath(file, `string((${expression})[${i + 1}])`)));
}

async function sha1(file: string): Promise<string> {
  return createHash('sha1').update(await readFile(file)).digest('hex');
}
