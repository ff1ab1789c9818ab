/**
 * OVF descriptors and manifests for VMware ESX/ESXi.
 *
 * - OVF 1.0 (DMTF DSP0243 1.0.0, schema DSP8023) for ESX 4.0 and later:
 *   hardware family vmx-07, VMXNET3 adapters.
 * - OVF 0.9, VMware's pre-standard dialect read by ESX 3.5 / VirtualCenter 2.5:
 *   its own envelope namespace, generic <Section xsi:type="ovf:…_Type">
 *   elements, <Content> for the virtual system, rasd:InstanceId/Caption, and
 *   hardware family vmx-04 with E1000 adapters.
 *
 * What ESX/ESXi importers are known to insist on, and this file honours:
 * - RASD children in schema (alphabetical) order; ESXi reports an out-of-order
 *   child as "Unsupported element".
 * - Every namespace prefix declared (vmw: for vmw:osType).
 * - ovf:capacity equal to the VMDK's capacity, in bytes with the unit spelled
 *   out ("Capacity of uploaded disk is larger than requested" otherwise), and
 *   ovf:size equal to the real file size (the Host Client streams by it).
 * - Only devices the hardware family supports (no SATA, sound, ExtraConfig).
 * - A manifest that lists the .ovf and every disk as `SHA1(name)= hex`, no
 *   space before "(", one after "=", and SHA1 by default: ESX before 6.5 and
 *   older ovftool/PowerCLI reject SHA256 lines.
 *
 * Only the first adapter is connected at power-on: in VMware's reading of OVF,
 * rasd:AutomaticAllocation is the adapter's "connect at power on" flag.
 */
import { createHash } from 'node:crypto';
import { el, renderXml, text, type XmlElement, type XmlNode } from './xml.js';
import { checkMemoryRule, checkVirtualMachine, DescriptorError, machineId, required, VMWARE_MEMORY, type VirtualMachine } from './vm.js';

export interface OvfOptions {
  /** Logical network every adapter is attached to; the deploy wizard maps it to a port group. Default "VM Network". */
  networkName?: string;
}

const OVF10_NS = 'http://schemas.dmtf.org/ovf/envelope/1';
const OVF09_NS = 'http://www.vmware.com/schema/ovf/1/envelope';
const RASD_NS = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData';
const VSSD_NS = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData';
const VMW_NS = 'http://www.vmware.com/schema/ovf';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

const VMDK_STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';
// OVF 0.9 had no streamOptimized URI; VMware's 0.9 tools call the same
// compressed stream format "#sparse" and refuse anything else.
const VMDK_SPARSE_09 = 'http://www.vmware.com/specifications/vmdk.html#sparse';

/** CIM ResourceType values (CIM_ResourceAllocationSettingData). */
const ResourceType = { processor: 3, memory: 4, scsiController: 6, ethernet: 10, disk: 17 } as const;

// Guest OS: CIM_OperatingSystem OsType plus VMware's guest id. vmx-07 (ESX 4)
// knows "Other 2.6.x Linux (64-bit)"; vmx-04 (ESX 3.5) only "Other Linux (64-bit)".
const OS_10 = { cimId: 100, vmwOsType: 'other26xLinux64Guest', description: 'Other 2.6.x Linux (64-bit)' };
const OS_09 = { cimId: 101, description: 'Other Linux (64-bit)' };

// Both dialects describe the same machine: CPUs, memory, one LSI Logic SCSI
// controller with the disk at unit 0, then the adapters.
const InstanceId = { cpu: 1, memory: 2, scsi: 3, disk: 4, firstNic: 5 } as const;

type Fields = Record<string, string | number | undefined>;

// The CIM RASD schema is a sequence; OVF 1.0 validators and ESXi want this order.
const RASD_ORDER_10 = [
  'Address', 'AddressOnParent', 'AllocationUnits', 'AutomaticAllocation', 'AutomaticDeallocation',
  'Caption', 'Connection', 'ConsumerVisibility', 'Description', 'ElementName', 'HostResource',
  'InstanceID', 'Limit', 'MappingBehavior', 'OtherResourceType', 'Parent', 'PoolID', 'Reservation',
  'ResourceSubType', 'ResourceType', 'VirtualQuantity', 'VirtualQuantityUnits', 'Weight',
];
// The order VMware's own OVF 0.9 exports use.
const RASD_ORDER_09 = [
  'Caption', 'Description', 'InstanceId', 'ResourceType', 'ResourceSubType', 'Address', 'BusNumber',
  'AutomaticAllocation', 'Connection', 'HostResource', 'Parent', 'AddressOnParent', 'AllocationUnits',
  'VirtualQuantity',
];

function rasdItem(order: readonly string[], fields: Fields): XmlElement {
  const unknown = Object.keys(fields).filter((k) => !order.includes(k));
  if (unknown.length > 0) throw new Error(`RASD fields outside the schema order: ${unknown.join(', ')}`);
  const children = order
    .filter((name) => fields[name] !== undefined)
    .map((name) => text(`rasd:${name}`, fields[name]!));
  return el('Item', {}, ...children);
}

/** The OVF 1.0 descriptor (the .ovf file) for ESX/ESXi 4.0 and later. */
export function ovf10Descriptor(vm: VirtualMachine, opts: OvfOptions = {}): string {
  checkVirtualMachine(vm);
  checkMemoryRule(vm, VMWARE_MEMORY);
  const network = networkName(opts);
  const fileSize = required(vm.disk.fileSizeBytes, 'disk.fileSizeBytes', 'for ovf:size in an OVF 1.0 descriptor');
  const populated = required(vm.disk.populatedBytes, 'disk.populatedBytes', 'for ovf:populatedSize in an OVF 1.0 descriptor');
  const id = machineId(vm.name);
  const item = (fields: Fields) => rasdItem(RASD_ORDER_10, fields);

  const nics = Array.from({ length: vm.nics }, (_, i) =>
    item({
      // PCI unit numbers as VMware assigns them; fixing them keeps eth0 first.
      AddressOnParent: 7 + i,
      AutomaticAllocation: i === 0 ? 'true' : 'false',
      Connection: network,
      Description: `VmxNet3 ethernet adapter on "${network}"`,
      ElementName: `Network adapter ${i + 1}`,
      InstanceID: InstanceId.firstNic + i,
      ResourceSubType: 'VmxNet3',
      ResourceType: ResourceType.ethernet,
    }),
  );

  const envelope = el(
    'Envelope',
    {
      'xmlns': OVF10_NS,
      'xmlns:ovf': OVF10_NS,
      'xmlns:rasd': RASD_NS,
      'xmlns:vmw': VMW_NS,
      'xmlns:vssd': VSSD_NS,
      'xml:lang': 'en-US',
    },
    el('References', {}, el('File', { 'ovf:href': vm.disk.fileName, 'ovf:id': 'file1', 'ovf:size': fileSize })),
    el(
      'DiskSection',
      {},
      text('Info', 'Virtual disk information'),
      el('Disk', {
        'ovf:capacity': vm.disk.capacityBytes,
        'ovf:capacityAllocationUnits': 'byte',
        'ovf:diskId': 'vmdisk1',
        'ovf:fileRef': 'file1',
        'ovf:format': VMDK_STREAM_OPTIMIZED,
        'ovf:populatedSize': populated,
      }),
    ),
    el(
      'NetworkSection',
      {},
      text('Info', 'The list of logical networks'),
      el('Network', { 'ovf:name': network }, text('Description', `The ${network} network`)),
    ),
    el(
      'VirtualSystem',
      { 'ovf:id': id },
      text('Info', 'A virtual machine'),
      text('Name', vm.name),
      el(
        'OperatingSystemSection',
        { 'ovf:id': OS_10.cimId, 'vmw:osType': OS_10.vmwOsType },
        text('Info', 'The kind of installed guest operating system'),
        text('Description', OS_10.description),
      ),
      el(
        'VirtualHardwareSection',
        {},
        text('Info', 'Virtual hardware requirements'),
        el(
          'System',
          {},
          text('vssd:ElementName', 'Virtual Hardware Family'),
          text('vssd:InstanceID', 0),
          text('vssd:VirtualSystemIdentifier', id),
          text('vssd:VirtualSystemType', 'vmx-07'),
        ),
        item({
          AllocationUnits: 'hertz * 10^6',
          Description: 'Number of Virtual CPUs',
          ElementName: `${vm.cpus} virtual CPU(s)`,
          InstanceID: InstanceId.cpu,
          ResourceType: ResourceType.processor,
          VirtualQuantity: vm.cpus,
        }),
        item({
          AllocationUnits: 'byte * 2^20',
          Description: 'Memory Size',
          ElementName: `${vm.memoryMiB}MB of memory`,
          InstanceID: InstanceId.memory,
          ResourceType: ResourceType.memory,
          VirtualQuantity: vm.memoryMiB,
        }),
        item({
          Address: 0,
          Description: 'SCSI Controller',
          ElementName: 'SCSI controller 0',
          InstanceID: InstanceId.scsi,
          ResourceSubType: 'lsilogic',
          ResourceType: ResourceType.scsiController,
        }),
        item({
          AddressOnParent: 0,
          ElementName: 'Hard disk 1',
          HostResource: 'ovf:/disk/vmdisk1',
          InstanceID: InstanceId.disk,
          Parent: InstanceId.scsi,
          ResourceType: ResourceType.disk,
        }),
        ...nics,
      ),
      el(
        'ProductSection',
        {},
        text('Info', 'Information about the installed software'),
        text('Product', vm.name),
        text('Version', vm.version),
      ),
    ),
  );
  return renderXml(envelope);
}

/** The OVF 0.9 descriptor for ESX 3.5 and VirtualCenter 2.5. */
export function ovf09Descriptor(vm: VirtualMachine, opts: OvfOptions = {}): string {
  checkVirtualMachine(vm);
  checkMemoryRule(vm, VMWARE_MEMORY);
  const network = networkName(opts);
  const fileSize = required(vm.disk.fileSizeBytes, 'disk.fileSizeBytes', 'for ovf:size in an OVF 0.9 descriptor');
  const id = machineId(vm.name);
  const item = (fields: Fields) => rasdItem(RASD_ORDER_09, fields);
  const section = (type: string, attrs: Record<string, string | number>, ...children: XmlNode[]) =>
    el('Section', { ...attrs, 'xsi:type': `ovf:${type}` }, ...children);

  const nics = Array.from({ length: vm.nics }, (_, i) =>
    item({
      Caption: `ethernet${i}`,
      Description: `E1000 ethernet adapter on "${network}"`,
      InstanceId: InstanceId.firstNic + i,
      ResourceType: ResourceType.ethernet,
      ResourceSubType: 'E1000',
      AutomaticAllocation: i === 0 ? 'true' : 'false',
      Connection: network,
    }),
  );

  const envelope = el(
    'Envelope',
    {
      'ovf:version': '0.9',
      'xml:lang': 'en-US',
      'xmlns': OVF09_NS,
      'xmlns:ovf': OVF09_NS,
      'xmlns:rasd': RASD_NS,
      'xmlns:vssd': VSSD_NS,
      'xmlns:xsi': XSI_NS,
    },
    el('References', {}, el('File', { 'ovf:href': vm.disk.fileName, 'ovf:id': 'file1', 'ovf:size': fileSize })),
    section(
      'DiskSection_Type',
      {},
      text('Info', 'List of the virtual disks used in the package'),
      el('Disk', {
        'ovf:capacity': vm.disk.capacityBytes,
        'ovf:diskId': 'vmdisk1',
        'ovf:fileRef': 'file1',
        'ovf:format': VMDK_SPARSE_09,
      }),
    ),
    section(
      'NetworkSection_Type',
      {},
      text('Info', 'Logical networks used in the package'),
      el('Network', { 'ovf:name': network }, text('Description', `The ${network} network`)),
    ),
    el(
      'Content',
      { 'ovf:id': id, 'xsi:type': 'ovf:VirtualSystem_Type' },
      text('Info', 'A virtual machine'),
      section(
        'OperatingSystemSection_Type',
        { 'ovf:id': OS_09.cimId },
        text('Info', 'The kind of installed guest operating system'),
        text('Description', OS_09.description),
      ),
      section(
        'VirtualHardwareSection_Type',
        {},
        text('Info', 'Virtual hardware requirements for a virtual machine'),
        el(
          'System',
          {},
          text('vssd:InstanceId', 0),
          text('vssd:VirtualSystemIdentifier', id),
          text('vssd:VirtualSystemType', 'vmx-04'),
        ),
        item({
          Caption: `${vm.cpus} virtual CPU(s)`,
          Description: 'Number of Virtual CPUs',
          InstanceId: InstanceId.cpu,
          ResourceType: ResourceType.processor,
          AllocationUnits: 'MegaHertz',
          VirtualQuantity: vm.cpus,
        }),
        item({
          Caption: `${vm.memoryMiB}MB of memory`,
          Description: 'Memory Size',
          InstanceId: InstanceId.memory,
          ResourceType: ResourceType.memory,
          AllocationUnits: 'MegaBytes',
          VirtualQuantity: vm.memoryMiB,
        }),
        item({
          Caption: 'scsiController0',
          Description: 'SCSI Controller',
          InstanceId: InstanceId.scsi,
          ResourceType: ResourceType.scsiController,
          ResourceSubType: 'lsilogic',
          Address: 0,
          BusNumber: 0,
        }),
        item({
          Caption: 'disk1',
          InstanceId: InstanceId.disk,
          ResourceType: ResourceType.disk,
          HostResource: '/disk/vmdisk1',
          Parent: InstanceId.scsi,
          AddressOnParent: 0,
        }),
        ...nics,
      ),
      section(
        'ProductSection_Type',
        { 'ovf:required': 'false' },
        text('Info', 'Information about the installed software'),
        text('Product', vm.name),
        text('Version', vm.version),
      ),
    ),
  );
  return renderXml(envelope);
}

export type ManifestAlgorithm = 'sha1' | 'sha256';

/**
 * One file of an OVF package: its bytes (small files such as the .ovf), or
 * the hex digest the disk writer computed while streaming the disk.
 */
export type ManifestFile = { name: string; content: string | Uint8Array } | { name: string; digest: string };

const DIGEST_HEX_LENGTH: Record<ManifestAlgorithm, number> = { sha1: 40, sha256: 64 };

/**
 * The manifest (.mf): one `SHA1(name)= hex` line per file, in the order given
 * (list the .ovf first, then the disks; never the .mf itself).
 */
export function ovfManifest(files: readonly ManifestFile[], algorithm: ManifestAlgorithm): string {
  if (algorithm !== 'sha1' && algorithm !== 'sha256') {
    throw new DescriptorError('algorithm', `must be "sha1" or "sha256" (got ${JSON.stringify(algorithm)})`);
  }
  if (files.length === 0) throw new DescriptorError('files', 'must list at least one file');
  const seen = new Set<string>();
  const lines = files.map((file, i) => {
    const field = `files[${i}]`;
    // A ")" or line break would make the line ambiguous; OVF packages are flat.
    if (typeof file.name !== 'string' || !/^[^\u0000-\u001f\u007f/\\)]+$/.test(file.name)) {
      throw new DescriptorError(`${field}.name`, `must be a bare file name without ")" (got ${JSON.stringify(file.name)})`);
    }
    if (seen.has(file.name)) throw new DescriptorError(`${field}.name`, `lists ${file.name} twice`);
    seen.add(file.name);
    let digest: string;
    if ('digest' in file) {
      digest = String(file.digest).toLowerCase();
      if (!new RegExp(`^[0-9a-f]{${DIGEST_HEX_LENGTH[algorithm]}}$`).test(digest)) {
        throw new DescriptorError(`${field}.digest`, `must be a ${algorithm} hex digest (got ${JSON.stringify(file.digest)})`);
      }
    } else {
      digest = createHash(algorithm).update(file.content).digest('hex');
    }
    return `${algorithm.toUpperCase()}(${file.name})= ${digest}\n`;
  });
  return lines.join('');
}

function networkName(opts: OvfOptions): string {
  const name = opts.networkName ?? 'VM Network';
  if (name.trim() === '' || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new DescriptorError('networkName', `must be a non-empty name without control characters (got ${JSON.stringify(name)})`);
  }
  return name;
}
