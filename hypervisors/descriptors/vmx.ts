/**
 * The .vmx for VMware Workstation, Player and Server (the LBVMv8.zip target).
 *
 * Virtual hardware version 4 so the oldest products (Workstation 5, Server 1,
 * ESX 3.5 via Converter) open it, with E1000 adapters because VMXNET3 needs a
 * newer hardware version.
 *
 * The disk sits on an LSI Logic SCSI controller (scsi0:0), not IDE: it is the
 * controller VMware picks for Linux guests, the kernel's mptspi driver handles
 * it, and the ESX targets use the same one, so a single kernel config and
 * fstab fit every VMware download. The VMDK's ddb.adapterType must say
 * "lsilogic" to match.
 *
 * Adapters are bridged to the host's LAN, like "VM Network" on ESX.
 *
 * No uuid.bios or MAC address is written unless asked: VMware then generates
 * both at first power-on, so two appliances from one download (an HA pair)
 * never share an identity.
 */
import { checkMemoryRule, checkVirtualMachine, VMWARE_MEMORY, type VirtualMachine } from './vm.js';

export interface VmxOptions {
  /** Write vm.uuid as uuid.bios (default false: VMware generates one per copy). */
  uuidBios?: boolean;
}

// VMware's own guest id for a 64-bit Linux that hardware version 4 knows.
const GUEST_OS = 'otherlinux-64';

export function vmxFile(vm: VirtualMachine, opts: VmxOptions = {}): string {
  checkVirtualMachine(vm);
  checkMemoryRule(vm, VMWARE_MEMORY);

  const entries: Array<[string, string]> = [
    ['.encoding', 'UTF-8'],
    ['config.version', '8'],
    ['virtualHW.version', '4'],
    ['displayName', vm.name],
    ['annotation', `${vm.name} (version ${vm.version})`],
    ['guestOS', GUEST_OS],
    ['numvcpus', String(vm.cpus)],
    ['memsize', String(vm.memoryMiB)],
    ['scsi0.present', 'TRUE'],
    ['scsi0.virtualDev', 'lsilogic'],
    ['scsi0:0.present', 'TRUE'],
    ['scsi0:0.fileName', vm.disk.fileName],
    ['floppy0.present', 'FALSE'],
    ['serial0.present', 'FALSE'],
  ];
  for (let i = 0; i < vm.nics; i++) {
    entries.push(
      [`ethernet${i}.present`, 'TRUE'],
      [`ethernet${i}.virtualDev`, 'e1000'],
      [`ethernet${i}.connectionType`, 'bridged'],
      [`ethernet${i}.addressType`, 'generated'],
      [`ethernet${i}.startConnected`, i === 0 ? 'TRUE' : 'FALSE'],
    );
  }
  if (opts.uuidBios) entries.push(['uuid.bios', vmxUuid(vm.uuid)]);

  return entries.map(([key, value]) => `${key} = "${escapeVmxValue(value)}"\n`).join('');
}

/**
 * VMware writes characters that would break the quoted value as "|" plus two
 * hex digits: `"` is |22, `|` itself |7C, `#` (a comment) |23.
 */
export function escapeVmxValue(value: string): string {
  return value.replace(/[\u0000-\u001f"#|\u007f]/g, (c) => `|${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** uuid.bios is written as 16 hex bytes: "56 4d 12 … 9a-bc de …". */
function vmxUuid(uuid: string): string {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  const bytes = hex.match(/../g)!;
  return `${bytes.slice(0, 8).join(' ')}-${bytes.slice(8).join(' ')}`;
}
