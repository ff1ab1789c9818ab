/**
 * On-disk layout of VMware hosted sparse extents, shared by the monolithicSparse
 * and streamOptimized writers.
 *
 * Source: VMware, "Virtual Disk Format 1.1" technical note
 * (https://www.vmware.com/app/vmdk/?src=vmdk): "Hosted Sparse Extent Header",
 * "Grain Directories and Grain Tables", "Stream-Optimized Compressed Sparse
 * Extents" and "The Descriptor File". Field names below are the spec's.
 *
 * All integers are little-endian. Offsets and sizes in the header, the grain
 * directory and the grain tables count 512-byte sectors from the start of the file;
 * capacity and grain LBAs count sectors of the virtual disk.
 */
import path from 'node:path';

import { CHUNK_SIZE, type DiskChunk, type DiskImageWriterOptions } from './types.js';
import { isAllZero } from '../../builder/disk/all-zero.js';
import { checkDiskSizeOption, isWholeChunks } from './writer-checks.js';

// ─── Units ──────────────────────────────────────────────────────────────────

export const SECTOR_SIZE = 512;

/**
 * VMFS before ESXi 5.5 and VMware's hosted products take virtual disks of at
 * most 2 TiB less one sector.
 */
export const VMDK_MAX_DISK_SIZE = 2 * 1024 ** 4 - SECTOR_SIZE;

/** grainSize, in sectors: 64 KiB grains, as VMware and qemu write them. */
export const GRAIN_SIZE = 128;
export const GRAIN_BYTES = GRAIN_SIZE * SECTOR_SIZE;

/** numGTEsPerGT: the spec fixes it at 512, so one grain table covers 32 MiB of disk. */
export const NUM_GTES_PER_GT = 512;
export const GT_COVERAGE_BYTES = NUM_GTES_PER_GT * GRAIN_BYTES;

/** Sectors taken by one grain table (512 four-byte entries). */
export const GT_SECTORS = (NUM_GTES_PER_GT * 4) / SECTOR_SIZE;

/**
 * The embedded descriptor sits right after the header. VMware reserves 20 sectors
 * for it so tools can rewrite it in place; we do the same.
 */
export const DESCRIPTOR_OFFSET = 1;
export const DESCRIPTOR_SIZE = 20;

export function sectorsFor(bytes: number): number {
  return Math.ceil(bytes / SECTOR_SIZE);
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

// ─── SparseExtentHeader ─────────────────────────────────────────────────────

/** magicNumber: the bytes "KDMV" read as a little-endian uint32. */
export const MAGIC_NUMBER = 0x564d444b;

/** gdOffset of a stream's leading header: the real value is in the footer. */
export const GD_AT_END = 0xffffffffffffffffn;

/** flags bits. */
export const FLAG_VALID_NEWLINE_TEST = 1 << 0;
export const FLAG_REDUNDANT_GRAIN_TABLE = 1 << 1;
export const FLAG_COMPRESSED_GRAINS = 1 << 16;
export const FLAG_MARKERS = 1 << 17;

/** compressAlgorithm values. */
export const COMPRESSION_NONE = 0;
export const COMPRESSION_DEFLATE = 1;

export interface SparseExtentHeader {
  version: number;
  flags: number;
  /** Virtual disk size, in sectors. */
  capacity: number;
  grainSize: number;
  descriptorOffset: number;
  descriptorSize: number;
  numGTEsPerGT: number;
  /** Redundant grain directory; 0 when there is none. */
  rgdOffset: number;
  gdOffset: number | typeof GD_AT_END;
  /** Sectors before the first grain: header, descriptor and preallocated metadata. */
  overHead: number;
  uncleanShutdown: boolean;
  compressAlgorithm: number;
}

/** The 512-byte header sector. */
export function encodeSparseExtentHeader(header: SparseExtentHeader): Buffer {
  const sector = Buffer.alloc(SECTOR_SIZE);
  sector.writeUInt32LE(MAGIC_NUMBER, 0);
  sector.writeUInt32LE(header.version, 4);
  sector.writeUInt32LE(header.flags, 8);
  sector.writeBigUInt64LE(BigInt(header.capacity), 12);
  sector.writeBigUInt64LE(BigInt(header.grainSize), 20);
  sector.writeBigUInt64LE(BigInt(header.descriptorOffset), 28);
  sector.writeBigUInt64LE(BigInt(header.descriptorSize), 36);
  sector.writeUInt32LE(header.numGTEsPerGT, 44);
  sector.writeBigUInt64LE(BigInt(header.rgdOffset), 48);
  sector.writeBigUInt64LE(BigInt(header.gdOffset), 56);
  sector.writeBigUInt64LE(BigInt(header.overHead), 64);
  sector.writeUInt8(header.uncleanShutdown ? 1 : 0, 72);
  // singleEndLineChar, nonEndLineChar, doubleEndLineChar1, doubleEndLineChar2:
  // a reader that finds them altered knows the file went through a text-mode transfer.
  sector.write('\n \r\n', 73, 'latin1');
  sector.writeUInt16LE(header.compressAlgorithm, 77);
  return sector;
}

// ─── Grain directory and grain tables ───────────────────────────────────────

/** Entries in the grain directory: one per grain table, the last one possibly partly used. */
export function grainDirectoryEntries(capacity: number): number {
  return Math.ceil(capacity / (GRAIN_SIZE * NUM_GTES_PER_GT));
}

/**
 * Directory and table entries are uint32 sector numbers (0 = not allocated), so
 * nothing can be placed beyond 2 TiB into the file.
 */
export function tableEntry(sector: number): number {
  if (sector > 0xffffffff) {
    throw new Error(`vmdk: sector ${sector} does not fit a 32-bit grain table entry (file over 2 TiB)`);
  }
  return sector;
}

/** A grain directory or grain table, padded to whole sectors. */
export function encodeSectorTable(entries: Uint32Array): Buffer {
  const table = Buffer.alloc(sectorsFor(entries.length * 4) * SECTOR_SIZE);
  entries.forEach((entry, i) => table.writeUInt32LE(entry, i * 4));
  return table;
}

// ─── Markers (streamOptimized only) ─────────────────────────────────────────

/** MetaDataMarker types. */
export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;
export type MetadataMarkerType =
  | typeof MARKER_EOS
  | typeof MARKER_GT
  | typeof MARKER_GD
  | typeof MARKER_FOOTER;

/**
 * MetaDataMarker: one sector announcing numSectors of metadata that follow.
 * size is 0, which is what tells it apart from a grain marker.
 */
export function encodeMetadataMarker(type: MetadataMarkerType, numSectors: number): Buffer {
  const marker = Buffer.alloc(SECTOR_SIZE);
  marker.writeBigUInt64LE(BigInt(numSectors), 0);
  marker.writeUInt32LE(0, 8);
  marker.writeUInt32LE(type, 12);
  return marker;
}

/** Bytes of a GrainMarker before the compressed data: lba (uint64) and size (uint32). */
export const GRAIN_MARKER_HEADER_BYTES = 12;

/** GrainMarker: the grain's first LBA, the compressed length, the data, padded to a sector. */
export function encodeGrainMarker(lba: number, compressed: Buffer): Buffer {
  const marker = Buffer.alloc(
    sectorsFor(GRAIN_MARKER_HEADER_BYTES + compressed.length) * SECTOR_SIZE,
  );
  marker.writeBigUInt64LE(BigInt(lba), 0);
  marker.writeUInt32LE(compressed.length, 8);
  compressed.copy(marker, GRAIN_MARKER_HEADER_BYTES);
  return marker;
}

// ─── The two kinds of extent ────────────────────────────────────────────────

/**
 * monolithicSparse, laid out as VMware Workstation does: header, descriptor,
 * redundant grain directory and its grain tables, grain directory and its grain
 * tables, all preallocated; grains start at the next grain boundary.
 */
export interface MonolithicSparseLayout {
  header: SparseExtentHeader & { gdOffset: number };
  /** Sector of each preallocated grain table, in directory order. */
  grainDirectory: Uint32Array;
  redundantGrainDirectory: Uint32Array;
}

export function monolithicSparseLayout(capacity: number): MonolithicSparseLayout {
  const tables = grainDirectoryEntries(capacity);
  const directorySectors = sectorsFor(tables * 4);
  const directoryWithTables = directorySectors + tables * GT_SECTORS;
  const rgdOffset = DESCRIPTOR_OFFSET + DESCRIPTOR_SIZE;
  const gdOffset = rgdOffset + directoryWithTables;
  const tablesAfter = (directory: number) =>
    Uint32Array.from({ length: tables }, (_, i) =>
      tableEntry(directory + directorySectors + i * GT_SECTORS),
    );
  return {
    header: {
      version: 1,
      flags: FLAG_VALID_NEWLINE_TEST | FLAG_REDUNDANT_GRAIN_TABLE,
      capacity,
      grainSize: GRAIN_SIZE,
      descriptorOffset: DESCRIPTOR_OFFSET,
      descriptorSize: DESCRIPTOR_SIZE,
      numGTEsPerGT: NUM_GTES_PER_GT,
      rgdOffset,
      gdOffset,
      overHead: roundUp(gdOffset + directoryWithTables, GRAIN_SIZE),
      uncleanShutdown: false,
      compressAlgorithm: COMPRESSION_NONE,
    },
    grainDirectory: tablesAfter(gdOffset),
    redundantGrainDirectory: tablesAfter(rgdOffset),
  };
}

/**
 * streamOptimized: header, descriptor, then (from overHead on) grain markers with
 * each grain table written after its grains, the grain directory, and the footer.
 * The leading header says GD_AT_END; the footer copy carries the real gdOffset.
 */
export function streamOptimizedHeader(
  capacity: number,
  gdOffset: number | typeof GD_AT_END,
): SparseExtentHeader {
  return {
    version: 3,
    flags: FLAG_VALID_NEWLINE_TEST | FLAG_COMPRESSED_GRAINS | FLAG_MARKERS,
    capacity,
    grainSize: GRAIN_SIZE,
    descriptorOffset: DESCRIPTOR_OFFSET,
    descriptorSize: DESCRIPTOR_SIZE,
    numGTEsPerGT: NUM_GTES_PER_GT,
    rgdOffset: 0,
    gdOffset,
    overHead: roundUp(DESCRIPTOR_OFFSET + DESCRIPTOR_SIZE, GRAIN_SIZE),
    uncleanShutdown: false,
    compressAlgorithm: COMPRESSION_DEFLATE,
  };
}

// ─── Embedded descriptor ────────────────────────────────────────────────────

export const ADAPTER_TYPES = ['lsilogic', 'ide', 'buslogic'] as const;
export type AdapterType = (typeof ADAPTER_TYPES)[number];

export interface DiskGeometry {
  cylinders: number;
  heads: number;
  sectors: number;
}

/** The CHS geometry VMware records: 16 heads for IDE (at most 16383 cylinders), 255 for SCSI. */
export function diskGeometry(capacity: number, adapterType: AdapterType): DiskGeometry {
  const sectors = 63;
  if (adapterType === 'ide') {
    const heads = 16;
    return { cylinders: Math.min(Math.floor(capacity / (heads * sectors)), 16383), heads, sectors };
  }
  const heads = 255;
  return { cylinders: Math.floor(capacity / (heads * sectors)), heads, sectors };
}

export interface DescriptorFields {
  /** Content id; parentCID is always "none" (ffffffff): these are base disks. */
  cid: number;
  createType: 'monolithicSparse' | 'streamOptimized';
  /** In sectors. */
  capacity: number;
  /** The extent is the file itself; VMware records its own name here. */
  extentFileName: string;
  adapterType: AdapterType;
  virtualHWVersion: string;
}

export function buildDescriptor(fields: DescriptorFields): string {
  const geometry = diskGeometry(fields.capacity, fields.adapterType);
  return [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    `CID=${fields.cid.toString(16).padStart(8, '0')}`,
    'parentCID=ffffffff',
    `createType="${fields.createType}"`,
    '',
    '# Extent description',
    `RW ${fields.capacity} SPARSE "${fields.extentFileName}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    `ddb.virtualHWVersion = "${fields.virtualHWVersion}"`,
    `ddb.geometry.cylinders = "${geometry.cylinders}"`,
    `ddb.geometry.heads = "${geometry.heads}"`,
    `ddb.geometry.sectors = "${geometry.sectors}"`,
    `ddb.adapterType = "${fields.adapterType}"`,
    '',
  ].join('\n');
}

/** The descriptor area: the text, zero-padded to descriptorSize sectors. */
export function encodeDescriptor(text: string): Buffer {
  const area = Buffer.alloc(DESCRIPTOR_SIZE * SECTOR_SIZE);
  const length = Buffer.byteLength(text, 'utf8');
  if (length > area.length) {
    throw new Error(`vmdk: descriptor is ${length} bytes, more than the ${area.length} reserved`);
  }
  area.write(text, 0, 'utf8');
  return area;
}

// ─── Shared by both writers ─────────────────────────────────────────────────

export interface VmdkWriterOptions extends DiskImageWriterOptions {
  adapterType: AdapterType;
  /** ddb.virtualHWVersion, e.g. "7" or "4". */
  virtualHWVersion: string;
  /** Content id (uint32), derived from the build so the output is deterministic. */
  cid: number;
}

/** Throws an Error naming the first bad option and its value. */
export function validateVmdkWriterOptions(options: VmdkWriterOptions): void {
  const { diskSize, adapterType, virtualHWVersion, cid } = options;
  checkDiskSizeOption('vmdk', diskSize);
  if (!ADAPTER_TYPES.includes(adapterType)) {
    throw new Error(
      `vmdk: adapterType must be one of ${ADAPTER_TYPES.join(', ')}, got ${JSON.stringify(adapterType)}`,
    );
  }
  if (typeof virtualHWVersion !== 'string' || !/^[1-9][0-9]*$/.test(virtualHWVersion)) {
    throw new Error(
      `vmdk: virtualHWVersion must be a positive whole number like "7", got ${JSON.stringify(virtualHWVersion)}`,
    );
  }
  if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff) {
    throw new Error(`vmdk: cid must be an integer from 0 to 0xffffffff, got ${cid}`);
  }
  // The file name is quoted inside the descriptor.
  if (/["\p{Cc}]/u.test(path.basename(options.path))) {
    throw new Error(
      `vmdk: path must not contain quotes or control characters in its file name, got ${JSON.stringify(options.path)}`,
    );
  }
}

/** The descriptor of the file being written, which names that file as its extent. */
export function descriptorFor(
  options: VmdkWriterOptions,
  createType: DescriptorFields['createType'],
): Buffer {
  return encodeDescriptor(
    buildDescriptor({
      cid: options.cid,
      createType,
      capacity: options.diskSize / SECTOR_SIZE,
      extentFileName: path.basename(options.path),
      adapterType: options.adapterType,
      virtualHWVersion: options.virtualHWVersion,
    }),
  );
}

/** Throws unless the chunk is the one expected next: the reader's contract, checked cheaply. */
export function checkChunk(chunk: DiskChunk, expectedOffset: number, diskSize: number): void {
  if (
    chunk.offset !== expectedOffset ||
    !isWholeChunks(chunk, diskSize) ||
    (chunk.data !== null && chunk.data.length !== chunk.length)
  ) {
    throw new Error(
      `vmdk: expected a ${CHUNK_SIZE}-byte chunk or a null stretch of them at offset ${expectedOffset}, ` +
        `got ${chunk.data?.length ?? 'null'} data bytes for length ${chunk.length} at offset ${chunk.offset}`,
    );
  }
}

export interface Grain {
  /** First sector of the grain on the virtual disk. */
  lba: number;
  data: Buffer;
}

/** The grains of a chunk holding at least one non-zero byte; the others stay unallocated. */
export function nonZeroGrains(offset: number, data: Buffer): Grain[] {
  const grains: Grain[] = [];
  for (let start = 0; start < data.length; start += GRAIN_BYTES) {
    const grain = data.subarray(start, start + GRAIN_BYTES);
    if (!isAllZero(grain)) grains.push({ lba: (offset + start) / SECTOR_SIZE, data: grain });
  }
  return grains;
}
