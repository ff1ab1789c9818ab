/** Which writer makes each disk format, and with which options. */
import { xvaOvaXml } from '../descriptors/xva-ova-xml.js';
import type { VirtualMachine } from '../descriptors/vm.js';
import type { DiskFormat, VirtualHardware } from '../target.js';
import { createQcow2Writer } from '../writers/qcow2.js';
import { createRawWriter } from '../writers/raw.js';
import { createRootSlotWriter } from '../writers/root-slot.js';
import type { DiskImageWriter, DiskImageWriterOptions } from '../writers/types.js';
import { createVhdWriter } from '../writers/vhd.js';
import { createVhdxWriter } from '../writers/vhdx.js';
import { ADAPTER_TYPES, type AdapterType } from '../writers/vmdk-layout.js';
import { createVmdkSparseWriter } from '../writers/vmdk-sparse.js';
import { createVmdkStreamWriter } from '../writers/vmdk-stream.js';
import { createXvaWriter } from '../writers/xva.js';
import type { TargetIds } from './ids.js';

/** What a writer may take from its target besides the path and size. */
export interface DiskJob {
  target: string;
  ids: TargetIds;
  /** SOURCE_DATE_EPOCH of the build. */
  epoch: number;
  hardware: VirtualHardware | undefined;
  /** The machine as known before the disk is written (no sizes of the image yet). */
  vm: VirtualMachine;
  /** Root slot A's partition: the image's root filesystem. */
  rootSlot: { offset: number; size: number };
}

interface DiskFormatWriter {
  create(options: DiskImageWriterOptions, job: DiskJob): Promise<DiskImageWriter> | DiskImageWriter;
  /** The image is compressed already, so archives store it as it is. */
  compressed?: boolean;
}

/** Any reference works as long as ova.xml and the disk's block folder agree. */
const XVA_VDI_REF = 'Ref:4';

export const DISK_FORMATS: Record<DiskFormat, DiskFormatWriter> = {
  'raw': { create: createRawWriter },
  'qcow2': { create: createQcow2Writer },
  'vmdk-stream-optimized': {
    create: (options, job) => createVmdkStreamWriter({ ...options, ...vmdkOptions(job) }),
    compressed: true,
  },
  'vmdk-monolithic-sparse': {
    create: (options, job) => createVmdkSparseWriter({ ...options, ...vmdkOptions(job) }),
  },
  'vhdx': {
    create: (options, { ids }) => createVhdxWriter({ ...options, uniqueId: ids.uniqueId('disk') }),
  },
  'vhd-dynamic': {
    create: (options, { ids, epoch }) => createVhdWriter({ ...options, type: 'dynamic', timestamp: epoch, uniqueId: ids.uniqueId('disk') }),
  },
  'xva': {
    create: (options, { vm, epoch }) =>
      createXvaWriter({
        ...options,
        ovaXml: xvaOvaXml(vm, { vdiRef: XVA_VDI_REF, timestamp: new Date(epoch * 1000) }),
        vdiRef: XVA_VDI_REF,
        timestamp: epoch,
      }),
  },
  'root-slot-gzip': {
    create: (options, { rootSlot }) => createRootSlotWriter({ ...options, partition: rootSlot }),
    compressed: true,
  },
};

/** A VMDK records the controller it hangs on and the hardware version of the VM it belongs to. */
function vmdkOptions({ target, ids, hardware }: DiskJob): { adapterType: AdapterType; virtualHWVersion: string; cid: number } {
  const adapterType = hardware?.diskController;
  if (!isVmdkAdapter(adapterType) || hardware?.hardwareVersion === undefined) {
    throw new Error(`target ${target}: a VMDK needs hardware with a VMDK disk controller (${ADAPTER_TYPES.join(', ')}) and a hardwareVersion`);
  }
  return { adapterType, virtualHWVersion: String(hardware.hardwareVersion), cid: ids.cid('disk') };
}

const isVmdkAdapter = (controller: string | undefined): controller is AdapterType =>
  (ADAPTER_TYPES as readonly (string | undefined)[]).includes(controller);
