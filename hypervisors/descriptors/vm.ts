/**
 * The virtual machine every descriptor describes, and its validation.
 *
 * A target builds one VirtualMachine from the recipe and the disk writer's
 * results, then asks for the descriptor(s) it ships. Every descriptor function
 * validates its input first and throws a DescriptorError naming the field.
 */

export interface VirtualDisk {
  /** File name of the disk image beside the descriptor, e.g. "LBVMv8-disk1.vmdk" (no directories). */
  fileName: string;
  /** Size of the virtual disk as the guest sees it, in bytes (a whole number of 512-byte sectors). */
  capacityBytes: number;
  /** Bytes of the virtual disk that hold data (not sparse); OVF 1.0 needs it. */
  populatedBytes?: number;
  /** Size of the image file itself, in bytes; OVF needs it. */
  fileSizeBytes?: number;
}

export interface VirtualMachine {
  /** Display name, e.g. "Loadbalancer.org Enterprise VA v8.0". */
  name: string;
  /** Appliance version, e.g. "8.0". */
  version: string;
  /** Number of virtual CPUs. */
  cpus: number;
  /** Memory in MiB. */
  memoryMiB: number;
  /** Number of network adapters; only the first is connected at power-on. */
  nics: number;
  /** The single system disk. */
  disk: VirtualDisk;
  /** A UUID chosen by the caller (deterministic per build), e.g. "6f1c…". */
  uuid: string;
}

/** Bad input to a descriptor; `field` names it as the caller wrote it (e.g. "disk.capacityBytes"). */
export class DescriptorError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'DescriptorError';
  }
}

/**
 * Virtual hardware version 4 (ESX 3.5, Workstation 5, the oldest we ship)
 * allows at most four network adapters, and the appliance uses four.
 */
export const MAX_NICS = 4;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkVirtualMachine(vm: VirtualMachine): void {
  checkLabel(vm.name, 'name');
  checkLabel(vm.version, 'version');
  checkInteger(vm.cpus, 'cpus', 1);
  checkInteger(vm.memoryMiB, 'memoryMiB', 1);
  checkInteger(vm.nics, 'nics', 1, MAX_NICS);
  if (typeof vm.uuid !== 'string' || !UUID.test(vm.uuid)) {
    throw new DescriptorError('uuid', `must be a UUID like 01234567-89ab-cdef-0123-456789abcdef (got ${show(vm.uuid)})`);
  }
  const disk = vm.disk;
  if (typeof disk !== 'object' || disk === null) throw new DescriptorError('disk', 'is missing');
  checkLabel(disk.fileName, 'disk.fileName');
  if (/[/\\]/.test(disk.fileName)) {
    throw new DescriptorError('disk.fileName', `must be a bare file name (got ${show(disk.fileName)})`);
  }
  checkInteger(disk.capacityBytes, 'disk.capacityBytes', 512);
  if (disk.capacityBytes % 512 !== 0) {
    throw new DescriptorError('disk.capacityBytes', `must be a multiple of 512 (got ${disk.capacityBytes})`);
  }
  if (disk.populatedBytes !== undefined) {
    checkInteger(disk.populatedBytes, 'disk.populatedBytes', 0, disk.capacityBytes);
  }
  if (disk.fileSizeBytes !== undefined) checkInteger(disk.fileSizeBytes, 'disk.fileSizeBytes', 1);
}

/** A hypervisor's rule on VM memory: a whole multiple of `multipleOfMiB`. */
export interface MemoryRule {
  hypervisor: string;
  multipleOfMiB: number;
}

/** VMware refuses memory sizes that are not a multiple of 4 MiB. */
export const VMWARE_MEMORY: MemoryRule = { hypervisor: 'VMware', multipleOfMiB: 4 };
export const HYPERV_MEMORY: MemoryRule = { hypervisor: 'Hyper-V', multipleOfMiB: 2 };

export function checkMemoryRule(vm: VirtualMachine, rule: MemoryRule): void {
  if (vm.memoryMiB % rule.multipleOfMiB !== 0) {
    throw new DescriptorError('memoryMiB', `${rule.hypervisor} needs a multiple of ${rule.multipleOfMiB} MiB (got ${vm.memoryMiB})`);
  }
}

/** Returns a value the caller declared optional but this descriptor needs. */
export function required<T>(value: T | undefined, field: string, why: string): T {
  if (value === undefined) throw new DescriptorError(field, `is required ${why}`);
  return value;
}

/**
 * An identifier derived from the display name for places that dislike spaces
 * and punctuation (libvirt domain names, OVF ids):
 * "Loadbalancer.org Enterprise VA v8.0" → "Loadbalancer.org_Enterprise_VA_v8.0".
 */
export function machineId(name: string): string {
  const id = name
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/-{2,}/g, '-')
    .replace(/^[._-]+|_+$/g, '');
  return id === '' ? 'vm' : id;
}

function checkLabel(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new DescriptorError(field, `must be a non-empty string (got ${show(value)})`);
  }
  if (CONTROL.test(value)) {
    throw new DescriptorError(field, `must not contain control characters (got ${show(value)})`);
  }
}

function checkInteger(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new DescriptorError(field, `must be an integer ${range} (got ${show(value)})`);
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
