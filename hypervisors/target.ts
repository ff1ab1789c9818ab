/**
 * A target is a record: the disk image it needs (made by a shared writer during
 * the one read of the raw disk), the virtual machine its descriptor declares,
 * how the files are packaged into what the hypervisor's user downloads, and the
 * limits of all that. hypervisors/target-builder/ turns a record into disks and
 * artifacts; hypervisors/targets/ holds one record per target.
 */
import type { HostTool } from '../builder/tools.js';
import type { Recipe } from '../builder/recipe/schema.js';
import type { ManifestAlgorithm } from './descriptors/ovf.js';
import type { HypervTarget } from './descriptors/hyperv.js';
import type { MemoryRule } from './descriptors/vm.js';
import type { UpdateKey } from '../builder/update/signing-key.js';

/**
 * A file name with the recipe's version filled in: "{major}" becomes the major
 * version, "{version}" the whole one ("LBVMESXv{major}.zip" → "LBVMESXv8.zip"), "{product}"
 * a physical model's product name ("{product}-v{version}.img.xz" → "LBHW-R20-v8.0.img.xz").
 */
export type NameTemplate = string;

export interface Target {
  /** What `--target` takes, e.g. "esx". */
  name: string;
  /** One line for `lbbuild targets`. */
  summary: string;
  disk: TargetDisk;
  /** The virtual devices its descriptor declares; absent for the bare raw disk. */
  hardware?: VirtualHardware;
  /** The files written beside the disk that describe the virtual machine. */
  descriptor?: Descriptor;
  /** The artifacts, in the order they are made; each holds the descriptor's files, then the disk. */
  packaging: readonly Packaging[];
  /** Host tools the packaging runs, checked as soon as the target is selected. */
  tools?: readonly HostTool[];
  /** Largest virtual disk, in bytes, the target's format and hypervisor take, if limited. */
  maxDiskSize?: number;
  /** Most network adapters the descriptor can declare, if it declares any. */
  maxNics?: number;
  /** The hypervisor's rule on VM memory sizes, where it has one. */
  memoryRule?: MemoryRule;
  /** The artifacts are signed with the update key; the build is refused without one. */
  needsUpdateKey?: boolean;
  /**
   * A physical model's target: it builds only that model's recipe (model.id), by default
   * `recipe`. Without it a target builds recipes that have no model, or, with
   * `anyRecipe`, every recipe.
   */
  model?: { id: string; recipe: string };
  anyRecipe?: boolean;
}

export interface TargetDisk {
  format: DiskFormat;
  file: NameTemplate;
}

/** The disk-image formats, each made by one writer (target-builder/disk-formats.ts). */
export type DiskFormat =
  | 'raw'
  | 'qcow2'
  | 'vmdk-stream-optimized'
  | 'vmdk-monolithic-sparse'
  | 'vhdx'
  | 'vhd-dynamic'
  /** ova.xml, the XVA's descriptor, is the archive's first member, written by the disk writer. */
  | 'xva'
  /** Root slot A's partition alone, gzip-compressed: what an update bundle carries. */
  | 'root-slot-gzip';

export interface VirtualHardware {
  nic: 'vmxnet3' | 'e1000' | 'virtio' | 'hyperv-synthetic' | 'xen-vif';
  diskController: 'lsilogic' | 'ide' | 'virtio' | 'xen-vbd';
  /** VMware's virtual hardware version; the VMDK records it too. */
  hardwareVersion?: number;
}

export type Descriptor =
  | { kind: 'ovf-1.0' | 'ovf-0.9'; file: NameTemplate; manifest: { file: NameTemplate; algorithm: ManifestAlgorithm } }
  | { kind: 'vmx'; file: NameTemplate }
  /** README.txt and New-ApplianceVM.ps1, worded for `edition`. */
  | { kind: 'hyperv-import-script'; edition: HypervTarget }
  /** The domain's disk path is `diskDirectory` on the KVM host, where the guide has users extract the archive. */
  | { kind: 'libvirt-domain'; file: NameTemplate; diskDirectory: string };

export type Packaging =
  /** The disk image itself is the artifact. */
  | { kind: 'disk' }
  /** With `folder`, every file goes into that folder of the zip. */
  | { kind: 'zip'; file: NameTemplate; folder?: NameTemplate }
  | { kind: 'ova'; file: NameTemplate }
  | { kind: 'tar.bz2'; file: NameTemplate }
  /** A signed update bundle (builder/update/manifest.ts) of the root slot image. */
  | { kind: 'lbupdate'; file: NameTemplate }
  /** The whole raw disk, xz-compressed by the xz tool: a physical model's factory image. */
  | { kind: 'raw-xz'; file: NameTemplate }
  /** The hybrid USB/CD installer (BIOS and UEFI) of `image`, a raw-xz artifact made before it. */
  | { kind: 'installer-iso'; file: NameTemplate; image: NameTemplate };

export interface TargetContext {
  recipe: Recipe;
  /** SOURCE_DATE_EPOCH of the build. */
  epoch: number;
  /** This target's own empty working folder; artifacts are created in it. */
  dir: string;
  diskSize: number;
  /** The update signing key, when the build has one (builder/update/signing-key.ts). */
  updateKey?: UpdateKey;
  /** The raw disk the images are made from. */
  rawDisk: string;
  /** The configured root tree and its kernel, for packaging that boots it (the installer); a build always has one. */
  system?: { root: string; kernelVersion: string };
}
