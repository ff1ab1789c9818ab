/**
 * VHD writer, after Microsoft's "Virtual Hard Disk Image Format Specification"
 * (version 1.0, October 11, 2006): the disk format of Virtual PC, Virtual
 * Server and Hyper-V on Windows Server 2008 R2 / 2012 (and, fixed, of Azure).
 *
 * File layouts ("Overview of Virtual Hard Disk Image Types"):
 *   fixed    [disk data][footer]
 *   dynamic  [footer copy][dynamic disk header][BAT][block]…[footer]
 *            Each block is a sector bitmap followed by BLOCK_SIZE bytes of
 *            disk data; only blocks holding non-zero data are in the file.
 * Every multi-byte field is big-endian.
 */

import { OutputFile } from './output-file.js';
import type { DiskChunk, DiskImageWriter, DiskImageWriterOptions } from './types.js';
import { checkChunk, checkDiskSizeOption, checkPathOption, checkUniqueIdOption, checkWholeDisk } from './writer-checks.js';

export type VhdDiskType = 'dynamic' | 'fixed';

export interface VhdWriterOptions extends DiskImageWriterOptions {
  type: VhdDiskType;
  /** Creation time, seconds since the Unix epoch (SOURCE_DATE_EPOCH). */
  timestamp: number;
  /** The footer's Unique Id: 16 bytes. */
  uniqueId: Buffer;
}

const GiB = 1024 ** 3;

/** The largest VHD Hyper-V and qemu accept: 2040 GiB, 0xFF000000 sectors. */
export const VHD_MAX_DISK_SIZE = 2040 * GiB;

const SECTOR_SIZE = 512;

// ---------------------------------------------------------------------------
// On-disk structures
// ---------------------------------------------------------------------------

const FOOTER_SIZE = 512;
const DYNAMIC_DISK_HEADER_SIZE = 1024;

/** Time Stamp counts seconds from 2000-01-01T00:00:00Z, which is this Unix time. */
const VHD_EPOCH = 946_684_800;

/** Features: bit 1 is reserved and must always be set. */
const FEATURES_RESERVED = 0x0000_0002;
const FILE_FORMAT_VERSION = 0x0001_0000;
const DYNAMIC_HEADER_VERSION = 0x0001_0000;
/** Data Offset of a fixed disk, and the dynamic header's unused Data Offset. */
const NO_DATA_OFFSET = 0xffff_ffff_ffff_ffffn;

/**
 * We introduce ourselves as Hyper-V ("win ", Windows 6.1 = Server 2008 R2, on
 * "Wi2k"). Readers decide from Creator Application whether the disk size is
 * Current Size or the smaller CHS product; qemu (block/vpc.c) and Hyper-V
 * take Current Size for "win ", while for "vpc " or "qemu" qemu would cut the
 * disk down to its geometry.
 */
const CREATOR_APPLICATION = 'win ';
const CREATOR_VERSION = 0x0006_0001;
const CREATOR_HOST_OS = 'Wi2k';

const enum DiskType {
  Fixed = 2,
  Dynamic = 3,
}

export interface DiskGeometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

/** The Hard Disk Footer's variable fields; the encoder supplies the rest. */
interface HardDiskFooter {
  dataOffset: bigint;
  /** Seconds since 2000-01-01T00:00:00Z. */
  timeStamp: number;
  /** Both Original Size and Current Size. */
  currentSize: number;
  diskType: DiskType;
  uniqueId: Buffer;
}

interface DynamicDiskHeader {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
}

/** The spec's checksum: one's complement of the byte sum, taken with the Checksum field zero. */
function checksum(structure: Buffer): number {
  let sum = 0;
  for (const byte of structure) sum += byte;
  return ~sum >>> 0;
}

/**
 * Disk Geometry as the spec's appendix "CHS Calculation" derives it from the
 * size. Only BIOS-era guests look at it: the geometry's product is usually a
 * little under the real size, which is why Current Size must win (see above).
 */
export function diskGeometry(diskSize: number): DiskGeometry {
  const totalSectors = Math.min(diskSize / SECTOR_SIZE, 65535 * 16 * 255);
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024));
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}

function encodeHardDiskFooter(footer: HardDiskFooter): Buffer {
  const geometry = diskGeometry(footer.currentSize);
  const buffer = Buffer.alloc(FOOTER_SIZE);
  buffer.write('conectix', 0, 'latin1'); // Cookie
  buffer.writeUInt32BE(FEATURES_RESERVED, 8); // Features
  buffer.writeUInt32BE(FILE_FORMAT_VERSION, 12); // File Format Version
  buffer.writeBigUInt64BE(footer.dataOffset, 16); // Data Offset
  buffer.writeUInt32BE(footer.timeStamp, 24); // Time Stamp
  buffer.write(CREATOR_APPLICATION, 28, 'latin1'); // Creator Application
  buffer.writeUInt32BE(CREATOR_VERSION, 32); // Creator Version
  buffer.write(CREATOR_HOST_OS, 36, 'latin1'); // Creator Host OS
  buffer.writeBigUInt64BE(BigInt(footer.currentSize), 40); // Original Size
  buffer.writeBigUInt64BE(BigInt(footer.currentSize), 48); // Current Size
  buffer.writeUInt16BE(geometry.cylinders, 56); // Disk Geometry
  buffer.writeUInt8(geometry.heads, 58);
  buffer.writeUInt8(geometry.sectorsPerTrack, 59);
  buffer.writeUInt32BE(footer.diskType, 60); // Disk Type
  footer.uniqueId.copy(buffer, 68); // Unique Id
  // Saved State (byte 84) and Reserved stay zero.
  buffer.writeUInt32BE(checksum(buffer), 64); // Checksum
  return buffer;
}

function encodeDynamicDiskHeader(header: DynamicDiskHeader): Buffer {
  const buffer = Buffer.alloc(DYNAMIC_DISK_HEADER_SIZE);
  buffer.write('cxsparse', 0, 'latin1'); // Cookie
  buffer.writeBigUInt64BE(NO_DATA_OFFSET, 8); // Data Offset
  buffer.writeBigUInt64BE(BigInt(header.tableOffset), 16); // Table Offset
  buffer.writeUInt32BE(DYNAMIC_HEADER_VERSION, 24); // Header Version
  buffer.writeUInt32BE(header.maxTableEntries, 28); // Max Table Entries
  buffer.writeUInt32BE(header.blockSize, 32); // Block Size
  // The Parent fields and Parent Locator Entries stay zero: not a differencing disk.
  buffer.writeUInt32BE(checksum(buffer), 36); // Checksum
  return buffer;
}

// ---------------------------------------------------------------------------
// Dynamic disk layout
// ---------------------------------------------------------------------------

/** The spec's default block size, and what Hyper-V uses. */
const BLOCK_SIZE = 2 * 1024 * 1024;
/** One bit per sector of a block, padded to whole sectors (here exactly one). */
const SECTOR_BITMAP_SIZE = Math.ceil(BLOCK_SIZE / SECTOR_SIZE / 8 / SECTOR_SIZE) * SECTOR_SIZE;
const DYNAMIC_DISK_HEADER_OFFSET = FOOTER_SIZE;
const TABLE_OFFSET = DYNAMIC_DISK_HEADER_OFFSET + DYNAMIC_DISK_HEADER_SIZE;
/**
 * Blocks are placed so that their data (after the bitmap) starts on a 4 KiB
 * boundary: guest I/O then lines up with 4 KiB host sectors.
 */
const BLOCK_DATA_ALIGNMENT = 4096;

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/** What differs between the two disk types; the chunks arrive already checked. */
interface VhdImage {
  write(chunk: DiskChunk): Promise<void>;
  /** Writes the footer and whatever else has to follow the data. */
  finish(): Promise<void>;
}

/** Starts every error message. */
const LABEL = 'VHD writer';

export async function createVhdWriter(options: VhdWriterOptions): Promise<DiskImageWriter> {
  const { path, diskSize, type, timestamp, uniqueId } = options;
  checkPathOption(LABEL, path);
  if (type !== 'dynamic' && type !== 'fixed') {
    throw new Error(`VHD writer: option type must be 'dynamic' or 'fixed', got ${JSON.stringify(type)}`);
  }
  checkDiskSizeOption(LABEL, diskSize);
  if (diskSize > VHD_MAX_DISK_SIZE) {
    throw new Error(
      `VHD writer: disk size ${diskSize / GiB} GiB (${diskSize} bytes) is over the VHD limit of ` +
        `${VHD_MAX_DISK_SIZE / GiB} GiB (${VHD_MAX_DISK_SIZE} bytes); use VHDX for larger disks`,
    );
  }
  if (!Number.isInteger(timestamp) || timestamp < VHD_EPOCH || timestamp - VHD_EPOCH > 0xffff_ffff) {
    throw new Error(
      `VHD writer: option timestamp must be whole seconds since the Unix epoch, from 2000-01-01 ` +
        `until 2136, got ${timestamp}`,
    );
  }
  checkUniqueIdOption(LABEL, uniqueId);

  const footer = encodeHardDiskFooter({
    dataOffset: type === 'fixed' ? NO_DATA_OFFSET : BigInt(DYNAMIC_DISK_HEADER_OFFSET),
    timeStamp: timestamp - VHD_EPOCH,
    currentSize: diskSize,
    diskType: type === 'fixed' ? DiskType.Fixed : DiskType.Dynamic,
    uniqueId,
  });

  const file = await OutputFile.open(path, LABEL);
  const image = type === 'fixed' ? new FixedImage(file, footer, diskSize) : new DynamicImage(file, footer, diskSize);
  let nextOffset = 0;

  return {
    async write(chunk) {
      checkChunk(LABEL, chunk, nextOffset, diskSize);
      await image.write(chunk);
      nextOffset += chunk.length;
    },
    async finish() {
      checkWholeDisk(LABEL, nextOffset, diskSize);
      await image.finish();
      await file.close();
    },
    async abort() {
      await file.remove();
    },
  };
}

/** The disk byte for byte, then the footer. Zero chunks are left as holes. */
class FixedImage implements VhdImage {
  constructor(
    private readonly file: OutputFile,
    private readonly footer: Buffer,
    private readonly diskSize: number,
  ) {}

  async write(chunk: DiskChunk): Promise<void> {
    if (chunk.data) await this.file.writeAt(chunk.offset, chunk.data);
  }

  async finish(): Promise<void> {
    await this.file.writeAt(this.diskSize, this.footer);
  }
}

/**
 * Blocks are appended as the first non-zero chunk inside them arrives; the
 * headers and BAT in front of them are written last, positionally. The BAT
 * stays in memory: 4 bytes per block, at most 4 MiB at the 2040 GiB limit.
 */
class DynamicImage implements VhdImage {
  private readonly maxTableEntries: number;
  private readonly bat: Buffer;
  /** Where the next block may start: after the BAT, then after the last block. */
  private nextFreeOffset: number;
  /** File offset of the sector bitmap of the block being filled, if it is allocated. */
  private blockOffset: number | null = null;
  private readonly sectorBitmap = Buffer.alloc(SECTOR_BITMAP_SIZE);

  constructor(
    private readonly file: OutputFile,
    private readonly footer: Buffer,
    private readonly diskSize: number,
  ) {
    this.maxTableEntries = Math.ceil(diskSize / BLOCK_SIZE);
    // Every entry (and the padding to a whole sector) starts as 0xFFFFFFFF: block not in the file.
    this.bat = Buffer.alloc(alignUp(this.maxTableEntries * 4, SECTOR_SIZE), 0xff);
    this.nextFreeOffset = TABLE_OFFSET + this.bat.length;
  }

  async write(chunk: DiskChunk): Promise<void> {
    const blockIndex = Math.floor(chunk.offset / BLOCK_SIZE);
    const offsetInBlock = chunk.offset % BLOCK_SIZE;
    if (chunk.data) {
      this.blockOffset ??= this.allocateBlock(blockIndex);
      await this.file.writeAt(this.blockOffset + SECTOR_BITMAP_SIZE + offsetInBlock, chunk.data);
      // Mark the chunk's sectors as holding data (bit 7 of byte 0 is sector 0).
      const firstSector = offsetInBlock / SECTOR_SIZE;
      this.sectorBitmap.fill(0xff, firstSector / 8, (firstSector + chunk.length / SECTOR_SIZE) / 8);
    }
    // A block with data is complete once a chunk reaches its end; a zero stretch may run far past it.
    const end = chunk.offset + chunk.length;
    if (end >= (blockIndex + 1) * BLOCK_SIZE || end === this.diskSize) await this.completeBlock();
  }

  /** Reserves file space for a block, enters it in the BAT and returns its offset. */
  private allocateBlock(blockIndex: number): number {
    const offset = alignUp(this.nextFreeOffset + SECTOR_BITMAP_SIZE, BLOCK_DATA_ALIGNMENT) - SECTOR_BITMAP_SIZE;
    this.bat.writeUInt32BE(offset / SECTOR_SIZE, blockIndex * 4);
    // The whole block, even a last one reaching past the end of the disk:
    // readers check that every block fits in the file.
    this.nextFreeOffset = offset + SECTOR_BITMAP_SIZE + BLOCK_SIZE;
    return offset;
  }

  private async completeBlock(): Promise<void> {
    if (this.blockOffset === null) return;
    await this.file.writeAt(this.blockOffset, this.sectorBitmap);
    this.sectorBitmap.fill(0);
    this.blockOffset = null;
  }

  async finish(): Promise<void> {
    const header = encodeDynamicDiskHeader({
      tableOffset: TABLE_OFFSET,
      maxTableEntries: this.maxTableEntries,
      blockSize: BLOCK_SIZE,
    });
    await this.file.writeAt(0, this.footer);
    await this.file.writeAt(DYNAMIC_DISK_HEADER_OFFSET, header);
    await this.file.writeAt(TABLE_OFFSET, this.bat);
    await this.file.writeAt(this.nextFreeOffset, this.footer);
  }
}
