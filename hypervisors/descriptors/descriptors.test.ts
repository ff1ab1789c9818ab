/**
 * Descriptor tests. Every document is checked with an independent reader:
 * xmllint (libxml2-utils) for XML, schema validation and XPath queries, and
 * virt-xml-validate (libvirt-clients) for the libvirt domain. A missing tool
 * fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { hypervImportScript, hypervReadme, psQuote } from './hyperv.js';
import { libvirtDomainXml } from './libvirt.js';
import { ovf09Descriptor, ovf10Descriptor, ovfManifest } from './ovf.js';
import { DescriptorError, type VirtualMachine } from './vm.js';
import { vmxFile } from './vmx.js';
import { escapeXmlText } from './xml.js';
import { xvaOvaXml } from './xva-ova-xml.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// CI lays shared/ beside the clone.
const OVF_SCHEMA = resolve(repoRoot, '../shared/schemas/ovf/dsp8023_1.1.1.xsd');

const scratch = mkdtempSync(join(tmpdir(), 'lbbuild-descriptors-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function save(name: string, content: string): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

function tool(cmd: string, args: string[], debianPackage: string) {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.error) {
    assert.fail(`${cmd} could not run (install the Debian package ${debianPackage}): ${result.error.message}`);
  }
  return result;
}

function xmllint(args: string[]) {
  return tool('xmllint', args, 'libxml2-utils');
}

function assertWellFormed(path: string): void {
  const r = xmllint(['--noout', '--nonet', path]);
  assert.equal(r.status, 0, `${path} is not well-formed:\n${r.stderr}`);
}

/** Evaluates an XPath 1.0 expression with xmllint; "" when a node-set is empty. */
function xpath(path: string, expr: string): string {
  const r = xmllint(['--nonet', '--xpath', expr, path]);
  if (r.status === 10 || /XPath set is empty/.test(r.stderr)) return '';
  assert.equal(r.status, 0, `xmllint --xpath ${expr} failed:\n${r.stderr}`);
  return r.stdout.trim();
}

/** An element in any namespace, by local name: "Item" → *[local-name()='Item']. */
const ln = (name: string) => `*[local-name()='${name}']`;
/** An attribute in any namespace, by local name. */
const la = (name: string) => `@*[local-name()='${name}']`;

/** The text of each element of a node-set, as xmllint prints it. */
function texts(path: string, expr: string): string[] {
  const count = Number(xpath(path, `count(${expr})`));
  return Array.from({ length: count }, (_, i) => xpath(path, `string((${expr})[${i + 1}])`));
}

function machine(overrides: Partial<VirtualMachine> = {}): VirtualMachine {
  return {
    name: 'Loadbalancer.org Enterprise VA v8.0',
    version: '8.0',
    cpus: 2,
    memoryMiB: 2048,
    nics: 4,
    disk: {
      fileName: 'LBVMv8-disk1.vmdk',
      capacityBytes: 20 * 1024 ** 3,
      populatedBytes: 1536 * 1024 ** 2,
      fileSizeBytes: 512 * 1024 ** 2 + 4096,
    },
    uuid: '6f1c0d2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f',
    ...overrides,
  };
}

/** A name that needs escaping everywhere. */
const AWKWARD_NAME = `Bob's "LB" <A&B> ‘v8’ #1 | -- #> $x`;

function assertDescriptorError(fn: () => unknown, field: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DescriptorError, `expected a DescriptorError, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: `));
    return true;
  });
}

describe('input validation', () => {
  const cases: Array<[string, Partial<VirtualMachine>]> = [
    ['nics', { nics: 0 }],
    ['nics', { nics: 5 }],
    ['memoryMiB', { memoryMiB: 2048.5 }],
    ['cpus', { cpus: 0 }],
    ['name', { name: '' }],
    ['name', { name: 'two\nlines' }],
    ['version', { version: '  ' }],
    ['uuid', { uuid: 'not-a-uuid' }],
    ['disk.fileName', { disk: { fileName: 'dir/disk.vmdk', capacityBytes: 1 << 20 } }],
    ['disk.capacityBytes', { disk: { fileName: 'd.vmdk', capacityBytes: 1000 } }],
    ['disk.populatedBytes', { disk: { fileName: 'd.vmdk', capacityBytes: 1 << 20, populatedBytes: 2 << 20 } }],
  ];
  for (const [field, override] of cases) {
    it(`rejects a bad ${field} (${JSON.stringify(Object.values(override)[0])}) in every descriptor`, () => {
      const vm = machine(override);
      assertDescriptorError(() => ovf10Descriptor(vm), field);
      assertDescriptorError(() => ovf09Descriptor(vm), field);
      assertDescriptorError(() => vmxFile(vm), field);
      assertDescriptorError(
        () => libvirtDomainXml(vm, { diskPath: '/var/lib/libvirt/images/a.qcow2', diskFormat: 'qcow2', domainType: 'kvm' }),
        field,
      );
      assertDescriptorError(() => hypervImportScript(vm, { diskFileName: 'a.vhdx', generation: 1 }), field);
      assertDescriptorError(() => hypervReadme(vm, 'hyperv'), field);
      assertDescriptorError(() => xvaOvaXml(vm, { vdiRef: 'Ref:4', timestamp: new Date(0) }), field);
    });
  }

  it('names the options a descriptor needs', () => {
    const noSize = machine({ disk: { fileName: 'a.vmdk', capacityBytes: 1 << 30, populatedBytes: 0 } });
    assertDescriptorError(() => ovf10Descriptor(noSize), 'disk.fileSizeBytes');
    assertDescriptorError(() => ovf09Descriptor(noSize), 'disk.fileSizeBytes');
    const noPopulated = machine({ disk: { fileName: 'a.vmdk', capacityBytes: 1 << 30, fileSizeBytes: 1 } });
    assertDescriptorError(() => ovf10Descriptor(noPopulated), 'disk.populatedBytes');
    assertDescriptorError(() => ovf10Descriptor(machine({ memoryMiB: 2046 })), 'memoryMiB');
    assertDescriptorError(() => vmxFile(machine({ memoryMiB: 1022 })), 'memoryMiB');
    assertDescriptorError(() => hypervImportScript(machine({ memoryMiB: 1025 }), { diskFileName: 'a.vhd', generation: 1 }), 'memoryMiB');
    assertDescriptorError(() => hypervImportScript(machine(), { diskFileName: 'a.vhdx', generation: 2 as 1 }), 'generation');
    assertDescriptorError(() => hypervImportScript(machine(), { diskFileName: 'C:\\a.vhdx', generation: 1 }), 'diskFileName');
    assertDescriptorError(() => hypervReadme(machine(), 'esx' as 'hyperv'), 'target');
    const kvm = { diskPath: '/var/lib/libvirt/images/a.qcow2', diskFormat: 'qcow2', domainType: 'kvm' } as const;
    assertDescriptorError(() => libvirtDomainXml(machine(), { ...kvm, diskPath: 'a.qcow2' }), 'diskPath');
    assertDescriptorError(() => libvirtDomainXml(machine(), { ...kvm, diskFormat: 'vmdk' as 'raw' }), 'diskFormat');
    assertDescriptorError(() => libvirtDomainXml(machine(), { ...kvm, domainType: 'xen' as 'kvm' }), 'domainType');
    assertDescriptorError(() => xvaOvaXml(machine(), { vdiRef: '4', timestamp: new Date(0) }), 'vdiRef');
    assertDescriptorError(() => xvaOvaXml(machine(), { vdiRef: 'Ref:4', timestamp: new Date('nope') }), 'timestamp');
  });

  it('rejects text that XML cannot carry', () => {
    assert.throws(() => escapeXmlText('a\uFFFEb'), /U\+FFFE/);
    assert.throws(() => escapeXmlText('lone \uD800 surrogate'), /U\+D800/);
    assert.equal(escapeXmlText('emoji \u{1F600} & <ok>'), 'emoji \u{1F600} &amp; &lt;ok&gt;');
  });
});

describe('OVF 1.0 (esx)', () => {
  it('validates against the DMTF OVF envelope schema', () => {
    for (const [label, vm] of [['default', machine()], ['awkward name', machine({ name: AWKWARD_NAME })]] as const) {
      const file = save(`ovf10-${label.replace(' ', '-')}.ovf`, ovf10Descriptor(vm));
      const r = xmllint(['--noout', '--nonet', '--schema', OVF_SCHEMA, file]);
      assert.equal(r.status, 0, `${label}: schema validation failed:\n${r.stderr}`);
      assert.match(r.stderr, /validates/);
    }
  });

  it('describes the disk, the hardware family and the adapters ESX needs', () => {
    const vm = machine({ name: AWKWARD_NAME });
    const file = save('ovf10.ovf', ovf10Descriptor(vm, { networkName: 'LB <net>' }));
    assert.equal(xpath(file, `namespace-uri(/*)`), 'http://schemas.dmtf.org/ovf/envelope/1');
    const fileEl = `/*/${ln('References')}/${ln('File')}`;
    assert.equal(xpath(file, `string(${fileEl}/${la('href')})`), vm.disk.fileName);
    assert.equal(xpath(file, `string(${fileEl}/${la('size')})`), String(vm.disk.fileSizeBytes));
    const disk = `/*/${ln('DiskSection')}/${ln('Disk')}`;
    assert.equal(xpath(file, `string(${disk}/${la('format')})`), 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized');
    assert.equal(xpath(file, `string(${disk}/${la('capacity')})`), String(vm.disk.capacityBytes));
    assert.equal(xpath(file, `string(${disk}/${la('capacityAllocationUnits')})`), 'byte');
    assert.equal(xpath(file, `string(${disk}/${la('populatedSize')})`), String(vm.disk.populatedBytes));
    assert.equal(xpath(file, `string(//${ln('VirtualSystem')}/${ln('Name')})`), AWKWARD_NAME);
    assert.equal(xpath(file, `string(//${ln('VirtualSystemType')})`), 'vmx-07');
    assert.match(xpath(file, `string(//${ln('OperatingSystemSection')}/${la('osType')})`), /64Guest$/);

    const item = (type: number) => `//${ln('Item')}[${ln('ResourceType')}='${type}']`;
    assert.deepEqual(texts(file, `${item(3)}/${ln('VirtualQuantity')}`), ['2']);
    assert.deepEqual(texts(file, `${item(4)}/${ln('VirtualQuantity')}`), ['2048']);
    assert.deepEqual(texts(file, `${item(6)}/${ln('ResourceSubType')}`), ['lsilogic']);
    const scsiId = xpath(file, `string(${item(6)}/${ln('InstanceID')})`);
    assert.deepEqual(texts(file, `${item(17)}/${ln('Parent')}`), [scsiId]);
    assert.deepEqual(texts(file, `${item(17)}/${ln('HostResource')}`), ['ovf:/disk/vmdisk1']);
    assert.deepEqual(texts(file, `${item(10)}/${ln('ResourceSubType')}`), ['VmxNet3', 'VmxNet3', 'VmxNet3', 'VmxNet3']);
    assert.deepEqual(texts(file, `${item(10)}/${ln('AutomaticAllocation')}`), ['true', 'false', 'false', 'false']);
    assert.deepEqual(texts(file, `${item(10)}/${ln('Connection')}`), Array(4).fill('LB <net>'));
    assert.deepEqual(texts(file, `/*/${ln('NetworkSection')}/${ln('Network')}/${la('name')}`), ['LB <net>']);
    const ids = texts(file, `//${ln('Item')}/${ln('InstanceID')}`);
    assert.equal(new Set(ids).size, ids.length, 'InstanceIDs are unique');
  });
});

describe('OVF 0.9 (esx-ovf09)', () => {
  const vm = machine({ name: AWKWARD_NAME });
  const file = save('ovf09.ovf', ovf09Descriptor(vm));

  it('is well-formed', () => assertWellFormed(file));

  it("uses VMware's 0.9 envelope and section syntax", () => {
    assert.equal(xpath(file, 'namespace-uri(/*)'), 'http://www.vmware.com/schema/ovf/1/envelope');
    assert.equal(xpath(file, `string(/*/${la('version')})`), '0.9');
    const fileEl = `/*/${ln('References')}/${ln('File')}`;
    assert.equal(xpath(file, `string(${fileEl}/${la('href')})`), vm.disk.fileName);
    assert.equal(xpath(file, `string(${fileEl}/${la('size')})`), String(vm.disk.fileSizeBytes));
    const disk = `/*/${ln('Section')}[${la('type')}='ovf:DiskSection_Type']/${ln('Disk')}`;
    assert.equal(xpath(file, `string(${disk}/${la('fileRef')})`), xpath(file, `string(${fileEl}/${la('id')})`));
    assert.equal(xpath(file, `string(${disk}/${la('capacity')})`), String(vm.disk.capacityBytes));
    assert.equal(xpath(file, `string(${disk}/${la('format')})`), 'http://www.vmware.com/specifications/vmdk.html#sparse');
    const content = `/*/${ln('Content')}[${la('type')}='ovf:VirtualSystem_Type']`;
    assert.equal(xpath(file, `count(${content})`), '1');
    assert.equal(xpath(file, `count(${content}/${ln('Section')}[${la('type')}='ovf:VirtualHardwareSection_Type'])`), '1');
    assert.equal(xpath(file, `string(//${ln('System')}/${ln('VirtualSystemType')})`), 'vmx-04');
    assert.equal(xpath(file, `count(//${ln('InstanceID')})`), '0', '0.9 spells it InstanceId');
  });

  it('has four E1000 adapters with only the first connected', () => {
    const nic = `//${ln('Item')}[${ln('ResourceType')}='10']`;
    assert.deepEqual(texts(file, `${nic}/${ln('ResourceSubType')}`), ['E1000', 'E1000', 'E1000', 'E1000']);
    assert.deepEqual(texts(file, `${nic}/${ln('AutomaticAllocation')}`), ['true', 'false', 'false', 'false']);
    assert.deepEqual(texts(file, `${nic}/${ln('Caption')}`), ['ethernet0', 'ethernet1', 'ethernet2', 'ethernet3']);
    const disk = `//${ln('Item')}[${ln('ResourceType')}='17']`;
    assert.equal(xpath(file, `string(${disk}/${ln('HostResource')})`), '/disk/vmdisk1');
    const scsi = `//${ln('Item')}[${ln('ResourceType')}='6']`;
    assert.equal(xpath(file, `string(${disk}/${ln('Parent')})`), xpath(file, `string(${scsi}/${ln('InstanceId')})`));
  });
});

describe('OVF manifest', () => {
  const ovf = ovf10Descriptor(machine());
  const diskBytes = Buffer.from('pretend this is a streamOptimized VMDK');

  for (const algorithm of ['sha1', 'sha256'] as const) {
    it(`lists ${algorithm} digests that match the content`, () => {
      const streamed = createHash(algorithm).update(diskBytes).digest('hex').toUpperCase();
      const mf = ovfManifest(
        [
          { name: 'LBVMESXv8.ovf', content: ovf },
          { name: 'LBVMv8-disk1.vmdk', digest: streamed },
        ],
        algorithm,
      );
      assert.ok(mf.endsWith('\n') && !mf.includes('\n\n') && !mf.includes('\r'));
      const lines = mf.trimEnd().split('\n');
      const parsed = lines.map((line) => {
        const m = /^(SHA1|SHA256)\(([^)]+)\)= ([0-9a-f]+)$/.exec(line);
        assert.ok(m, `malformed manifest line: ${line}`);
        return { tag: m[1], name: m[2], digest: m[3] };
      });
      assert.deepEqual(parsed, [
        { tag: algorithm.toUpperCase(), name: 'LBVMESXv8.ovf', digest: createHash(algorithm).update(ovf).digest('hex') },
        { tag: algorithm.toUpperCase(), name: 'LBVMv8-disk1.vmdk', digest: createHash(algorithm).update(diskBytes).digest('hex') },
      ]);
    });
  }

  it('rejects bad entries', () => {
    assertDescriptorError(() => ovfManifest([{ name: 'a.vmdk', digest: 'ab' }], 'sha1'), 'files[0].digest');
    assertDescriptorError(() => ovfManifest([{ name: 'a.vmdk', digest: 'a'.repeat(40) }], 'sha256'), 'files[0].digest');
    assertDescriptorError(() => ovfManifest([{ name: 'x', content: '' }, { name: 'x', content: '' }], 'sha1'), 'files[1].name');
    assertDescriptorError(() => ovfManifest([{ name: 'a(1).ovf', content: '' }], 'sha1'), 'files[0].name');
    assertDescriptorError(() => ovfManifest([], 'sha1'), 'files');
    assertDescriptorError(() => ovfManifest([{ name: 'a', content: '' }], 'md5' as 'sha1'), 'algorithm');
  });
});

describe('.vmx (vmware)', () => {
  function parseVmx(vmx: string): Map<string, string> {
    const entries = new Map<string, string>();
    for (const line of vmx.trimEnd().split('\n')) {
      const m = /^([A-Za-z0-9_.:]+) = "([^"]*)"$/.exec(line);
      assert.ok(m, `not a key = "value" line: ${line}`);
      assert.ok(!entries.has(m[1]!), `duplicate key ${m[1]}`);
      entries.set(m[1]!, m[2]!);
    }
    return entries;
  }

  it('has the hardware the v8 guide describes', () => {
    const vmx = parseVmx(vmxFile(machine()));
    const expected: Record<string, string> = {
      'config.version': '8',
      'virtualHW.version': '4',
      'guestOS': 'otherlinux-64',
      'memsize': '2048',
      'numvcpus': '2',
      'displayName': 'Loadbalancer.org Enterprise VA v8.0',
      'scsi0.present': 'TRUE',
      'scsi0.virtualDev': 'lsilogic',
      'scsi0:0.present': 'TRUE',
      'scsi0:0.fileName': 'LBVMv8-disk1.vmdk',
      'serial0.present': 'FALSE',
    };
    for (let i = 0; i < 4; i++) {
      expected[`ethernet${i}.present`] = 'TRUE';
      expected[`ethernet${i}.virtualDev`] = 'e1000';
      expected[`ethernet${i}.startConnected`] = i === 0 ? 'TRUE' : 'FALSE';
    }
    for (const [key, value] of Object.entries(expected)) assert.equal(vmx.get(key), value, key);
    assert.equal(vmx.has('ethernet4.present'), false);
    assert.equal(vmx.has('uuid.bios'), false);
    assert.equal([...vmx.keys()].some((k) => k.endsWith('.address') || k.startsWith('uuid.')), false);
  });

  it('writes uuid.bios only when asked', () => {
    const vmx = parseVmx(vmxFile(machine(), { uuidBios: true }));
    assert.equal(vmx.get('uuid.bios'), '6f 1c 0d 2e 8a 4b 4c 3d-9e 5f 0a 1b 2c 3d 4e 5f');
  });

  it('escapes quotes and other special characters the VMware way', () => {
    const vmx = parseVmx(vmxFile(machine({ name: AWKWARD_NAME })));
    const decoded = vmx.get('displayName')!.replace(/\|([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    assert.equal(decoded, AWKWARD_NAME);
  });
});

describe('libvirt domain (kvm)', () => {
  it('passes virt-xml-validate', () => {
    const variants = [
      { diskPath: '/var/lib/libvirt/images/LBVMKVMv8.qcow2', diskFormat: 'qcow2', domainType: 'kvm' },
      { diskPath: '/srv/images/LB "v8" & <test>.img', diskFormat: 'raw', domainType: 'qemu' },
    ] as const;
    for (const [i, opts] of variants.entries()) {
      const file = save(`domain-${i}.xml`, libvirtDomainXml(machine({ name: AWKWARD_NAME }), opts));
      const r = tool('virt-xml-validate', [file, 'domain'], 'libvirt-clients');
      assert.equal(r.status, 0, `virt-xml-validate failed:\n${r.stdout}${r.stderr}`);
      assert.equal(xpath(file, 'string(/domain/@type)'), opts.domainType);
      assert.equal(xpath(file, 'string(/domain/devices/disk/source/@file)'), opts.diskPath);
      assert.equal(xpath(file, 'string(/domain/devices/disk/driver/@type)'), opts.diskFormat);
      assert.equal(xpath(file, 'string(/domain/title)'), AWKWARD_NAME);
    }
  });

  it('has four virtio NICs on the NAT network with only the first link up', () => {
    const file = save('domain.xml', libvirtDomainXml(machine(), {
      diskPath: '/var/lib/libvirt/images/LBVMKVMv8.qcow2',
      diskFormat: 'qcow2',
      domainType: 'kvm',
    }));
    assert.equal(xpath(file, 'count(/domain/devices/interface)'), '4');
    assert.deepEqual(texts(file, '/domain/devices/interface/source/@network'), Array(4).fill('default'));
    assert.deepEqual(texts(file, '/domain/devices/interface/model/@type'), Array(4).fill('virtio'));
    assert.deepEqual(texts(file, '/domain/devices/interface/link/@state'), ['up', 'down', 'down', 'down']);
    assert.equal(xpath(file, 'string(/domain/devices/disk/target/@bus)'), 'virtio');
    assert.equal(xpath(file, 'string(/domain/os/type)'), 'hvm');
    assert.equal(xpath(file, 'string(/domain/devices/console/@type)'), 'pty');
    assert.equal(xpath(file, 'count(/domain/devices/serial)'), '1');
    assert.equal(xpath(file, 'string(/domain/memory)'), '2048');
    assert.equal(xpath(file, 'string(/domain/vcpu)'), '2');
    assert.match(xpath(file, 'string(/domain/comment())'), /virsh define/);
  });
});

describe('Hyper-V script and README', () => {
  /**
   * Reads the PowerShell single-quoted string starting at `start`, by the
   * language's rules: any of ' ‘ ’ ‚ ‛ opens or closes it, two in a row are
   * one literal quote.
   */
  function readPsString(script: string, start: number): { value: string; end: number } {
    const quote = /['\u2018\u2019\u201A\u201B]/;
    assert.match(script[start]!, quote);
    let value = '';
    let i = start + 1;
    for (;;) {
      assert.ok(i < script.length, 'unterminated string');
      const c = script[i]!;
      if (quote.test(c)) {
        if (quote.test(script[i + 1] ?? '')) {
          value += script[i + 1];
          i += 2;
          continue;
        }
        return { value, end: i + 1 };
      }
      value += c;
      i++;
    }
  }

  function defaultOf(script: string, variable: string): { value: string; rest: string } {
    const marker = `[string]$${variable} = `;
    const at = script.indexOf(marker);
    assert.ok(at >= 0, `no default for $${variable}`);
    const { value, end } = readPsString(script, at + marker.length);
    return { value, rest: script.slice(end, script.indexOf('\r\n', end)) };
  }

  it('creates a Generation 1 VM with the recipe CPU, memory, disk and adapters', () => {
    const script = hypervImportScript(machine(), { diskFileName: 'LBVMHYPER-V3v8.vhdx', generation: 1 });
    assert.ok(script.startsWith('\uFEFF'), 'UTF-8 byte order mark');
    assert.ok(!/[^\r]\n/.test(script), 'CRLF line ends');
    assert.match(script, /^\$newVm = @\{ Name = \$VMName;.* MemoryStartupBytes = 2048MB;.* NoVHD = \$true; SwitchName = \$SwitchName \}\r$/m);
    assert.match(script, /^ {4}\$newVm\.Generation = 1\r$/m);
    assert.match(script, /^\$vm = New-VM @newVm\r$/m);
    assert.match(script, /^Set-VMProcessor -VM \$vm -Count 2\r$/m);
    assert.match(script, /^Set-VMMemory -VM \$vm -DynamicMemoryEnabled \$false -StartupBytes 2048MB\r$/m);
    assert.match(script, /^Add-VMHardDiskDrive -VM \$vm -ControllerType IDE -ControllerNumber 0 -ControllerLocation 0 -Path \$disk\r$/m);
    const adapters = script.match(/^Add-VMNetworkAdapter -VM \$vm -Name 'Network Adapter \d'\r$/gm) ?? [];
    assert.equal(adapters.length, 3, 'three more adapters, none given a switch');
    assert.match(script, /Get-VMSwitch -SwitchType External/);
    assert.match(script, /\$sourceDisk = Join-Path \$PSScriptRoot 'LBVMHYPER-V3v8\.vhdx'/);
  });

  it('quotes user strings so PowerShell reads them back unchanged', () => {
    const disk = "Bob's disk ‘1’.vhdx";
    const script = hypervImportScript(machine({ name: AWKWARD_NAME }), { diskFileName: disk, generation: 1 });
    const name = defaultOf(script, 'VMName');
    assert.equal(name.value, AWKWARD_NAME);
    assert.equal(name.rest, ',', 'nothing after the string but the parameter separator');
    const diskAt = script.indexOf('Join-Path $PSScriptRoot ') + 'Join-Path $PSScriptRoot '.length;
    const diskString = readPsString(script, diskAt);
    assert.equal(diskString.value, disk);
    assert.equal(script[diskString.end], '\r');
    const help = script.slice(0, script.indexOf('#>'));
    assert.ok(!help.includes('Bob'), 'user strings stay out of the comment block');
    assert.equal(psQuote("it's"), "'it''s'");
  });

  it('writes a README for each Hyper-V target', () => {
    const modern = hypervReadme(machine({ disk: { fileName: 'LBVMHYPER-V3v8.vhdx', capacityBytes: 1 << 30 } }), 'hyperv');
    assert.match(modern, /Windows Server 2012 R2 and later/);
    assert.match(modern, /LBVMHYPER-V3v8\.vhdx/);
    assert.match(modern, /New-ApplianceVM\.ps1/);
    const legacy = hypervReadme(machine({ disk: { fileName: 'LBVMHYPER-Vv8.vhd', capacityBytes: 1 << 30 } }), 'hyperv-legacy');
    assert.match(legacy, /Windows Server 2008 R2 and 2012/);
    assert.match(legacy, /2008 R2, which has no Hyper-V PowerShell module/);
    assert.match(legacy, /Network Adapter, 3 time\(s\); leave them "Not connected"/);
    assert.ok(!/[^\r]\n/.test(legacy), 'CRLF line ends');
  });
});

describe('XVA ova.xml (xen)', () => {
  const vm = machine({ name: AWKWARD_NAME });
  const xml = xvaOvaXml(vm, { vdiRef: 'Ref:4', timestamp: new Date('2015-06-01T23:59:59Z') });
  const file = save('ova.xml', xml);
  const objects = `/value/struct/member[name='objects']/value/array/data/value/struct`;
  const ofClass = (cls: string) => `${objects}[member[name='class']/value='${cls}']`;
  const ids = (cls: string) => texts(file, `${ofClass(cls)}/member[name='id']/value`);
  const field = (cls: string, index: number, name: string) =>
    `(${ofClass(cls)})[${index}]/member[name='snapshot']/value/struct/member[name='${name}']/value`;
  const scalar = (cls: string, index: number, name: string) => xpath(file, `string(${field(cls, index, name)})`);
  const refList = (cls: string, index: number, name: string) => texts(file, `${field(cls, index, name)}/array/data/value`);

  it('is well-formed and written without whitespace between elements', () => {
    assertWellFormed(file);
    assert.ok(xml.startsWith('<value><struct>'));
    assert.ok(!/>\s+</.test(xml));
  });

  it('carries the version header xapi checks', () => {
    const version = (name: string) => xpath(file, `string(/value/struct/member[name='version']/value/struct/member[name='${name}']/value)`);
    assert.equal(version('date'), '2015-06-01');
    assert.equal(version('hostname'), 'lbbuild');
    assert.equal(version('xapi_major'), '1');
    assert.equal(version('xapi_minor'), '3');
    assert.equal(version('export_vsn'), '2');
    for (const name of ['product_version', 'product_brand', 'build_number']) {
      assert.equal(xpath(file, `count(/value/struct/member[name='version']/value/struct/member[name='${name}'])`), '1', name);
    }
  });

  it('has every record the import needs, with consistent references', () => {
    const [vmRef] = ids('VM');
    const [vbdRef] = ids('VBD');
    const [vdiRef] = ids('VDI');
    const [srRef] = ids('SR');
    const vifRefs = ids('VIF');
    const networkRefs = ids('network');
    assert.equal(ids('VM').length, 1);
    assert.equal(vdiRef, 'Ref:4', 'the VDI keeps the ref the disk folder is named after');
    assert.equal(vifRefs.length, 4);
    const all = [vmRef, vbdRef, vdiRef, srRef, ...vifRefs, ...networkRefs];
    assert.equal(new Set(all).size, all.length, 'refs are unique');

    assert.equal(scalar('VM', 1, 'name_label'), AWKWARD_NAME);
    assert.equal(scalar('VM', 1, 'uuid'), vm.uuid);
    assert.equal(scalar('VM', 1, 'memory_static_max'), String(2048 * 1024 * 1024));
    assert.equal(scalar('VM', 1, 'VCPUs_at_startup'), '2');
    assert.equal(scalar('VM', 1, 'HVM_boot_policy'), 'BIOS order');
    assert.deepEqual(refList('VM', 1, 'VBDs'), [vbdRef]);
    assert.deepEqual(refList('VM', 1, 'VIFs'), vifRefs);

    assert.equal(scalar('VBD', 1, 'VM'), vmRef);
    assert.equal(scalar('VBD', 1, 'VDI'), vdiRef);
    assert.equal(scalar('VBD', 1, 'type'), 'Disk');
    assert.equal(scalar('VBD', 1, 'userdevice'), '0');
    assert.equal(xpath(file, `string(${field('VBD', 1, 'bootable')}/boolean)`), '1');

    assert.equal(scalar('VDI', 1, 'SR'), srRef);
    assert.deepEqual(refList('VDI', 1, 'VBDs'), [vbdRef]);
    assert.equal(scalar('VDI', 1, 'virtual_size'), String(vm.disk.capacityBytes));
    assert.deepEqual(refList('SR', 1, 'VDIs'), [vdiRef]);
    assert.equal(scalar('SR', 1, 'content_type'), 'user');

    const devices = vifRefs.map((_, i) => scalar('VIF', i + 1, 'device'));
    assert.deepEqual(devices, ['0', '1', '2', '3']);
    for (let i = 1; i <= 4; i++) {
      assert.equal(scalar('VIF', i, 'VM'), vmRef);
      const net = scalar('VIF', i, 'network');
      assert.ok(networkRefs.includes(net), `VIF ${i} points at a network record`);
      const netIndex = networkRefs.indexOf(net) + 1;
      assert.ok(refList('network', netIndex, 'VIFs').includes(vifRefs[i - 1]!), 'the network lists the VIF back');
    }
    const lanIndex = networkRefs.indexOf(scalar('VIF', 1, 'network')) + 1;
    assert.equal(scalar('network', lanIndex, 'bridge'), 'xenbr0');
    const others = new Set([2, 3, 4].map((i) => scalar('VIF', i, 'network')));
    assert.equal(others.size, 1);
    assert.ok(!others.has(scalar('VIF', 1, 'network')), 'only the first VIF is on the LAN');
  });

  it('never hands out the VDI ref to another object', () => {
    const other = save('ova-ref0.xml', xvaOvaXml(machine({ nics: 1 }), { vdiRef: 'Ref:0', timestamp: new Date(0) }));
    const all = texts(other, `${objects}/member[name='id']/value`);
    assert.equal(new Set(all).size, all.length);
    assert.equal(xpath(other, `count(${objects}[member[name='class']/value='network'])`), '1');
  });
});

describe('determinism', () => {
  it('gives the same bytes for the same input', () => {
    const make = () => [
      ovf10Descriptor(machine()),
      ovf09Descriptor(machine()),
      ovfManifest([{ name: 'a.ovf', content: 'x' }], 'sha256'),
      vmxFile(machine()),
      libvirtDomainXml(machine(), { diskPath: '/a.qcow2', diskFormat: 'qcow2', domainType: 'kvm' }),
      hypervImportScript(machine(), { diskFileName: 'a.vhdx', generation: 1 }),
      hypervReadme(machine(), 'hyperv'),
      xvaOvaXml(machine(), { vdiRef: 'Ref:4', timestamp: new Date('2015-06-01T00:00:00Z') }),
    ];
    assert.deepEqual(make(), make());
  });
});
