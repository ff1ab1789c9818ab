/**
 * ova.xml, the metadata at the head of a XenServer / XCP-ng XVA archive.
 *
 * It is one XML-RPC value: a struct with
 *   version  who exported it; xapi refuses an import whose xapi_major.minor is
 *            newer than its own, and export_vsn 2 announces the disk layout
 *            below;
 *   objects  database records, each {class, id ("Ref:N"), snapshot (the
 *            fields)}, linked to each other by those ids.
 *
 * xapi's import (ocaml/xapi/import.ml) creates SR → VDI → VM → network → VBD
 * → VIF, looking every reference up among the records; a missing one aborts
 * the import with IMPORT_ERROR_FAILED_TO_FIND_OBJECT. So the VDI's SR record
 * must be present (its content_type "user" tells xapi to stream the disk into
 * the SR the user picked), as must every VIF's network. Older xapi parses each
 * record's fields strictly, so records carry the full field set of a real
 * export, with empty values where the field does not apply.
 *
 * The disk itself follows ova.xml in the tar as `<vdiRef>/00000000`,
 * `<vdiRef>/00000000.checksum`, … (1 MiB chunks, each with its SHA-1 in hex;
 * chunks of zeros may be left out). That is the XVA writer's job; it only has
 * to use the same vdiRef, and to put ova.xml first: xapi reads nothing else
 * before it.
 *
 * Networks: adapter 0 joins the host's first physical network (matched by
 * name, then by bridge xenbr0). XenServer VIFs have no "unplugged cable"
 * setting, so the other adapters go to a host-internal network that the import
 * creates (or reuses) by name, "Not connected".
 */
import { createHash } from 'node:crypto';
import { uuidFromDigest } from '../../builder/hash.js';
import { el, renderXml, text, type XmlElement } from './xml.js';
import { checkVirtualMachine, DescriptorError, type VirtualMachine } from './vm.js';

export interface XvaOptions {
  /** Reference of the VDI, e.g. "Ref:4"; the XVA writer names the disk's chunk folder after it. */
  vdiRef: string;
  /** Export time; only its UTC date is recorded. */
  timestamp: Date;
  /** Exporting host name recorded in the version header (default "lbbuild"). */
  hostname?: string;
}

// xapi 1.3 is XenServer 5.5: any later XenServer or XCP-ng accepts the import.
const XAPI_VERSION = { major: '1', minor: '3' };
const LAN_NETWORK = { name: 'Pool-wide network associated with eth0', bridge: 'xenbr0' };
const UNCONNECTED_NETWORK = {
  name: 'Not connected',
  description: 'Host-internal network for adapters imported disconnected; move them to a real network when needed.',
};

const NULL_REF = 'OpaqueRef:NULL';

/** The runtime fields a VBD or VIF has in an export: not attached, no QoS, no metrics. */
const DETACHED_DEVICE = {
  currently_attached: false,
  status_code: '0',
  status_detail: '',
  runtime_properties: {},
  qos_algorithm_type: '',
  qos_algorithm_params: {},
  qos_supported_algorithms: [],
  metrics: NULL_REF,
};

/** XML-RPC values as XenServer writes them: integers travel as strings. */
type Rpc = string | boolean | readonly Rpc[] | Typed | { readonly [field: string]: Rpc };

class Typed {
  constructor(
    readonly type: 'double' | 'dateTime.iso8601',
    readonly value: string,
  ) {}
}

const EPOCH = new Typed('dateTime.iso8601', '19700101T00:00:00Z');

function encode(value: Rpc): XmlElement {
  if (typeof value === 'string') return el('value', {}, ...(value === '' ? [] : [value]));
  if (typeof value === 'boolean') return el('value', {}, text('boolean', value ? '1' : '0'));
  if (value instanceof Typed) return el('value', {}, text(value.type, value.value));
  if (Array.isArray(value)) return el('value', {}, el('array', {}, el('data', {}, ...value.map(encode))));
  const members = Object.entries(value as { [field: string]: Rpc }).map(([name, v]) =>
    el('member', {}, text('name', name), encode(v)),
  );
  return el('value', {}, el('struct', {}, ...members));
}

function record(cls: string, id: string, snapshot: { [field: string]: Rpc }): Rpc {
  return { class: cls, id, snapshot };
}

/** A UUID derived from the VM's (name-based, RFC 4122 version 5 layout) so output is deterministic. */
function derivedUuid(base: string, label: string): string {
  return uuidFromDigest(createHash('sha1').update(Buffer.from(base.replace(/-/g, ''), 'hex')).update(label).digest(), 5);
}

export function xvaOvaXml(vm: VirtualMachine, opts: XvaOptions): string {
  checkVirtualMachine(vm);
  if (typeof opts.vdiRef !== 'string' || !/^Ref:\d+$/.test(opts.vdiRef)) {
    throw new DescriptorError('vdiRef', `must look like "Ref:4" (got ${JSON.stringify(opts.vdiRef)})`);
  }
  if (!(opts.timestamp instanceof Date) || Number.isNaN(opts.timestamp.getTime())) {
    throw new DescriptorError('timestamp', `must be a valid Date (got ${String(opts.timestamp)})`);
  }
  const hostname = opts.hostname ?? 'lbbuild';
  if (!/^[A-Za-z0-9.-]+$/.test(hostname)) {
    throw new DescriptorError('hostname', `must be a host name (got ${JSON.stringify(hostname)})`);
  }

  // Every other object gets the next free "Ref:N", skipping the VDI's.
  let counter = 0;
  const nextRef = (): string => {
    let ref: string;
    do ref = `Ref:${counter++}`;
    while (ref === opts.vdiRef);
    return ref;
  };
  const vmRef = nextRef();
  const vbdRef = nextRef();
  const srRef = nextRef();
  const lanRef = nextRef();
  const vifRefs = Array.from({ length: vm.nics }, nextRef);
  const unconnectedRef = vm.nics > 1 ? nextRef() : undefined;
  const vdiRef = opts.vdiRef;
  const uuid = (label: string) => derivedUuid(vm.uuid, label);
  const memoryBytes = String(vm.memoryMiB * 1024 * 1024);

  const vmRecord = record('VM', vmRef, {
    uuid: vm.uuid.toLowerCase(),
    allowed_operations: [],
    current_operations: {},
    power_state: 'Halted',
    name_label: vm.name,
    name_description: `Version ${vm.version}`,
    user_version: '1',
    is_a_template: false,
    suspend_VDI: NULL_REF,
    resident_on: NULL_REF,
    affinity: NULL_REF,
    memory_overhead: '0',
    memory_target: memoryBytes,
    memory_static_max: memoryBytes,
    memory_dynamic_max: memoryBytes,
    memory_dynamic_min: memoryBytes,
    memory_static_min: memoryBytes,
    VCPUs_params: {},
    VCPUs_max: String(vm.cpus),
    VCPUs_at_startup: String(vm.cpus),
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    consoles: [],
    VIFs: vifRefs,
    VBDs: [vbdRef],
    crash_dumps: [],
    VTPMs: [],
    // An empty PV_bootloader with an HVM boot policy makes an HVM guest
    // booting from its disk ("c"); its own kernel has the PV drivers.
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: 'BIOS order',
    HVM_boot_params: { order: 'c' },
    HVM_shadow_multiplier: new Typed('double', '1'),
    platform: { acpi: 'true', apic: 'true', pae: 'true', nx: 'true', viridian: 'false', timeoffset: '0' },
    PCI_bus: '',
    other_config: {},
    domid: '-1',
    domarch: '',
    last_boot_CPU_flags: {},
    is_control_domain: false,
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    last_booted_record: '',
    recommendations: '',
    xenstore_data: {},
    ha_always_run: false,
    ha_restart_priority: '',
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: EPOCH,
    transportable_snapshot_id: '',
    blobs: {},
    tags: [],
    blocked_operations: {},
    snapshot_info: {},
    snapshot_metadata: '',
    // Its presence tells xapi the export knows about ballooning, so the
    // memory settings above are kept as they are.
    parent: NULL_REF,
    children: [],
    bios_strings: {},
    protection_policy: NULL_REF,
    is_snapshot_from_vmpp: false,
    appliance: NULL_REF,
    start_delay: '0',
    shutdown_delay: '0',
    order: '0',
    VGPUs: [],
    attached_PCIs: [],
    suspend_SR: NULL_REF,
    version: '0',
    generation_id: '',
    hardware_platform_version: '0',
    has_vendor_device: false,
  });

  const vbdRecord = record('VBD', vbdRef, {
    uuid: uuid('VBD'),
    allowed_operations: [],
    current_operations: {},
    VM: vmRef,
    VDI: vdiRef,
    device: 'xvda',
    userdevice: '0',
    bootable: true,
    mode: 'RW',
    type: 'Disk',
    unpluggable: false,
    storage_lock: false,
    empty: false,
    // owner=true: the disk is deleted with the VM.
    other_config: { owner: 'true' },
    ...DETACHED_DEVICE,
  });

  const vdiRecord = record('VDI', vdiRef, {
    uuid: uuid('VDI'),
    name_label: `${vm.name} disk`,
    name_description: '',
    allowed_operations: [],
    current_operations: {},
    SR: srRef,
    VBDs: [vbdRef],
    crash_dumps: [],
    virtual_size: String(vm.disk.capacityBytes),
    physical_utilisation: String(vm.disk.populatedBytes ?? vm.disk.capacityBytes),
    type: 'system',
    sharable: false,
    read_only: false,
    other_config: {},
    storage_lock: false,
    location: '',
    managed: true,
    missing: false,
    parent: NULL_REF,
    xenstore_data: {},
    sm_config: {},
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: EPOCH,
    tags: [],
  });

  const srRecord = record('SR', srRef, {
    uuid: uuid('SR'),
    name_label: 'Local storage',
    name_description: '',
    allowed_operations: [],
    current_operations: {},
    VDIs: [vdiRef],
    PBDs: [],
    virtual_allocation: '0',
    physical_utilisation: '0',
    physical_size: '0',
    type: 'lvm',
    // Anything but "iso": an ISO SR's disks are treated as CDs and not streamed.
    content_type: 'user',
    shared: false,
    other_config: {},
    tags: [],
    sm_config: {},
    blobs: {},
  });

  const vifRecords = vifRefs.map((ref, device) =>
    record('VIF', ref, {
      uuid: uuid(`VIF${device}`),
      allowed_operations: [],
      current_operations: {},
      device: String(device),
      network: device === 0 ? lanRef : unconnectedRef!,
      VM: vmRef,
      // Empty: xapi generates a MAC from the VM's fresh mac_seed on import.
      MAC: '',
      MTU: '1500',
      other_config: {},
      ...DETACHED_DEVICE,
      MAC_autogenerated: true,
      locking_mode: 'network_default',
      ipv4_allowed: [],
      ipv6_allowed: [],
    }),
  );

  type NetworkFields = { name: string; description: string; bridge: string; otherConfig: { [k: string]: string } };
  const network = (ref: string, label: string, fields: NetworkFields, vifs: string[]) =>
    record('network', ref, {
      uuid: uuid(label),
      name_label: fields.name,
      name_description: fields.description,
      allowed_operations: [],
      current_operations: {},
      VIFs: vifs,
      PIFs: [],
      MTU: '1500',
      other_config: fields.otherConfig,
      bridge: fields.bridge,
      blobs: {},
      tags: [],
      default_locking_mode: 'unlocked',
    });
  const networks = [network(lanRef, 'network-lan', { ...LAN_NETWORK, description: '', otherConfig: {} }, [vifRefs[0]!])];
  if (unconnectedRef) {
    // An empty bridge makes xapi pick one when it creates the network;
    // automatic=false keeps XenCenter from adding it to new VMs.
    const fields = { ...UNCONNECTED_NETWORK, bridge: '', otherConfig: { automatic: 'false' } };
    networks.push(network(unconnectedRef, 'network-unconnected', fields, vifRefs.slice(1)));
  }

  const header: Rpc = {
    version: {
      hostname,
      date: opts.timestamp.toISOString().slice(0, 10),
      // For information only; compatibility is decided by xapi_major/minor.
      product_version: '1.0.0',
      product_brand: 'lbbuild',
      build_number: '0',
      xapi_major: XAPI_VERSION.major,
      xapi_minor: XAPI_VERSION.minor,
      export_vsn: '2',
    },
    objects: [vmRecord, vbdRecord, ...vifRecords, vdiRecord, srRecord, ...networks],
  };
  // Written without whitespace between elements, as xapi itself writes it.
  return renderXml(encode(header), { declaration: false, indent: false });
}
