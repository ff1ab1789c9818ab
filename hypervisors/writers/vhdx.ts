/**
 * VHDX writer, after Microsoft's "[MS-VHDX]: Virtual Hard Disk v2 (VHDX) File
 * Format" (VHDX format specification v1.0): the disk format of Hyper-V from
 * Windows Server 2012 on. Section numbers below refer to it.
 *
 * File layout (every object on a 1 MiB boundary, section 2.1):
 *   0        file type identifier       (64 KiB slots, section 2.2)
 *   64 KiB   header 1, sequence number 1
 *   128 KiB  header 2, sequence number 2 (the current one)
 *   192 KiB  region table, and at 256 KiB its copy
 *   1 MiB    log, empty
 *   2 MiB    metadata region
 *   3 MiB    BAT region
 *   then     payload blocks, only for blocks holding non-zero data
 * Every multi-byte field is little-endian.
 */

import { createHash } from 'node:crypto';

import { crc32c } from '../../builder/checksum/crc32c.js';
import { OutputFile } from './output-file.js';
import type { DiskChunk, DiskImageWriter, DiskImageWriterOptions } from './types.js';
import { checkChunk, checkDiskSizeOption, checkPathOption, checkUniqueIdOption, checkWholeDisk } from './writer-checks.js';

export interface VhdxWriterOptions extends DiskImageWriterOptions {
  /** 16 bytes identifying this disk; the file's GUIDs are derived from it. */
  uniqueId: Buffer;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const TiB = 1024 * 1024 * MiB;

/** VirtualDiskSize may be at most 64 TiB (section 2.6.2.2). */
export const VHDX_MAX_DISK_SIZE = 64 * TiB;

/**
 * 2 MiB payload blocks. A block the guest touched at all is stored whole, so
 * small blocks keep the file close to the data actually written (Linux file
 * systems scatter metadata all over the disk, which 32 MiB blocks would turn
 * into mostly-zero allocations). Two 1 MiB chunks fill a block exactly, so
 * chunks go straight to their place in the file with nothing buffered.
 */
const BLOCK_SIZE = 2 * MiB;
const LOGICAL_SECTOR_SIZE = 512;
/** Lets guests align their I/O to the 4 KiB sectors of today's host disks. */
const PHYSICAL_SECTOR_SIZE = 4096;
/** Payload blocks per sector bitmap block (section 2.4): 2^23 sectors / sectors per block. */
const CHUNK_RATIO = (2 ** 23 * LOGICAL_SECTOR_SIZE) / BLOCK_SIZE;

const HEADER_OFFSETS = [64 * KiB, 128 * KiB];
const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB];
/** Hyper-V puts its metadata updates through the log once the disk is in use. */
const LOG_OFFSET = 1 * MiB;
const LOG_LENGTH = 1 * MiB;
const METADATA_REGION_OFFSET = 2 * MiB;
const METADATA_REGION_LENGTH = 1 * MiB;
const BAT_REGION_OFFSET = 3 * MiB;

// ---------------------------------------------------------------------------
// On-disk structures
// ---------------------------------------------------------------------------

const HEADER_SIZE = 4 * KiB;
const REGION_TABLE_SIZE = 64 * KiB;
const METADATA_TABLE_SIZE = 64 * KiB;
const CREATOR = 'lbbuild';

/** A GUID in its binary form: the first three fields little-endian, the last eight bytes as written. */
function guid(text: string): Buffer {
  const hex = text.replace(/-/g, '');
  const bytes = Buffer.from(hex, 'hex');
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return bytes;
}

const BAT_REGION_GUID = guid('2DC27766-F623-4200-9D64-115E9BFD4A08');
const METADATA_REGION_GUID = guid('8B7CA206-4790-4B9A-B8FE-575F050F886E');
const FILE_PARAMETERS_GUID = guid('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
const VIRTUAL_DISK_SIZE_GUID = guid('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
/** Page 83 Data, called Virtual Disk ID in later editions of the spec. */
const PAGE_83_DATA_GUID = guid('BECA12AB-B2E6-4523-93EF-C309E000C746');
const LOGICAL_SECTOR_SIZE_GUID = guid('8141BF1D-A96F-4709-BA47-F233A8FAAB5F');
const PHYSICAL_SECTOR_SIZE_GUID = guid('CDA348C7-445D-4471-9CC9-E9885251C556');

// Payload BAT entry states (section 2.5.1.1). Sector bitmap entries stay 0,
// SB_BLOCK_NOT_PRESENT, as a disk without a parent requires (section 2.5.1.2).
const PAYLOAD_BLOCK_ZERO = 2n;
const PAYLOAD_BLOCK_FULLY_PRESENT = 6n;

// Metadata Table Entry flags (section 2.6.1.2).
const IS_VIRTUAL_DISK = 0b010;
const IS_REQUIRED = 0b100;

interface VhdxHeader {
  sequenceNumber: bigint;
  fileWriteGuid: Buffer;
  dataWriteGuid: Buffer;
}

interface Region {
  guid: Buffer;
  fileOffset: number;
  length: number;
}

interface MetadataItem {
  itemId: Buffer;
  flags: number;
  data: Buffer;
}

function encodeFileTypeIdentifier(): Buffer {
  const buffer = Buffer.alloc(8 + 512);
  buffer.write('vhdxfile', 0, 'latin1'); // Signature
  buffer.write(CREATOR, 8, 'utf16le'); // Creator
  return buffer;
}

function encodeHeader(header: VhdxHeader): Buffer {
  const buffer = Buffer.alloc(HEADER_SIZE);
  buffer.write('head', 0, 'latin1'); // Signature
  buffer.writeBigUInt64LE(header.sequenceNumber, 8); // SequenceNumber
  header.fileWriteGuid.copy(buffer, 16); // FileWriteGuid
  header.dataWriteGuid.copy(buffer, 32); // DataWriteGuid
  // LogGuid (48) stays zero: there is nothing in the log to replay.
  buffer.writeUInt16LE(0, 64); // LogVersion
  buffer.writeUInt16LE(1, 66); // Version
  buffer.writeUInt32LE(LOG_LENGTH, 68); // LogLength
  buffer.writeBigUInt64LE(BigInt(LOG_OFFSET), 72); // LogOffset
  buffer.writeUInt32LE(crc32c(buffer), 4); // Checksum
  return buffer;
}

function encodeRegionTable(regions: Region[]): Buffer {
  const buffer = Buffer.alloc(REGION_TABLE_SIZE);
  buffer.write('regi', 0, 'latin1'); // Signature
  buffer.writeUInt32LE(regions.length, 8); // EntryCount
  regions.forEach((region, i) => {
    const entry = 16 + i * 32;
    region.guid.copy(buffer, entry); // Guid
    buffer.writeBigUInt64LE(BigInt(region.fileOffset), entry + 16); // FileOffset
    buffer.writeUInt32LE(region.length, entry + 24); // Length
    buffer.writeUInt32LE(1, entry + 28); // Required
  });
  buffer.writeUInt32LE(crc32c(buffer), 4); // Checksum
  return buffer;
}

/** The metadata table followed by the items, packed from 64 KiB on (section 2.6). */
function encodeMetadataRegion(items: MetadataItem[]): Buffer {
  const buffer = Buffer.alloc(METADATA_TABLE_SIZE + items.reduce((sum, item) => sum + item.data.length, 0));
  buffer.write('metadata', 0, 'latin1'); // Signature
  buffer.writeUInt16LE(items.length, 10); // EntryCount
  let itemOffset = METADATA_TABLE_SIZE;
  items.forEach((item, i) => {
    const entry = 32 + i * 32;
    item.itemId.copy(buffer, entry); // ItemId
    buffer.writeUInt32LE(itemOffset, entry + 16); // Offset
    buffer.writeUInt32LE(item.data.length, entry + 20); // Length
    buffer.writeUInt32LE(item.flags, entry + 24); // IsUser, IsVirtualDisk, IsRequired
    item.data.copy(buffer, itemOffset);
    itemOffset += item.data.length;
  });
  return buffer;
}

function encodeFileParameters(): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeUInt32LE(BLOCK_SIZE, 0); // BlockSize
  // LeaveBlockAllocated and HasParent (bits 0 and 1 of the next 4 bytes) stay clear.
  return buffer;
}

function uint32LE(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

function uint64LE(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function batEntry(state: bigint, fileOffset = 0): bigint {
  return (BigInt(fileOffset / MiB) << 20n) | state; // FileOffsetMB | State
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/** Deterministic stand-in for a random GUID: the first 16 bytes of SHA-256(purpose, uniqueId). */
function deriveGuid(uniqueId: Buffer, purpose: string): Buffer {
  return createHash('sha256').update(`lbbuild vhdx ${purpose}\0`).update(uniqueId).digest().subarray(0, 16);
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Starts every error message. */
const LABEL = 'VHDX writer';

export async function createVhdxWriter(options: VhdxWriterOptions): Promise<DiskImageWriter> {
  const { path, diskSize, uniqueId } = options;
  checkPathOption(LABEL, path);
  checkDiskSizeOption(LABEL, diskSize);
  if (diskSize > VHDX_MAX_DISK_SIZE) {
    throw new Error(
      `VHDX writer: disk size ${diskSize} bytes is over the VHDX limit of 64 TiB (${VHDX_MAX_DISK_SIZE} bytes)`,
    );
  }
  checkUniqueIdOption(LABEL, uniqueId);

  const file = await OutputFile.open(path, LABEL);
  const image = new VhdxImage(file, diskSize, uniqueId);
  return {
    write: (chunk) => image.write(chunk),
    async finish() {
      await image.finish();
      await file.close();
    },
    async abort() {
      await file.remove();
    },
  };
}

/**
 * A payload block is appended when the first non-zero chunk inside it
 * arrives. Chunks arrive in order, so each BAT entry is final once its block
 * has been passed: the BAT is written out a page at a time as it fills, and
 * the headers and metadata in front of everything at the end.
 */
class VhdxImage {
  private readonly dataBlocksCount: number;
  private readonly batRegionLength: number;
  private readonly bat: BatWriter;
  private nextOffset = 0;
  /** Where the next payload block goes. */
  private nextFreeOffset: number;
  /** File offset of the payload block being filled, if it is allocated. */
  private blockOffset: number | null = null;

  constructor(
    private readonly file: OutputFile,
    private readonly diskSize: number,
    private readonly uniqueId: Buffer,
  ) {
    // Section 2.5: a sector bitmap entry after every CHUNK_RATIO payload
    // entries, but none after the last payload entry.
    this.dataBlocksCount = Math.ceil(diskSize / BLOCK_SIZE);
    const totalBatEntries = this.dataBlocksCount + Math.floor((this.dataBlocksCount - 1) / CHUNK_RATIO);
    this.batRegionLength = alignUp(totalBatEntries * 8, MiB);
    this.bat = new BatWriter(file, BAT_REGION_OFFSET);
    this.nextFreeOffset = BAT_REGION_OFFSET + this.batRegionLength;
  }

  async write(chunk: DiskChunk): Promise<void> {
    checkChunk(LABEL, chunk, this.nextOffset, this.diskSize);
    if (chunk.data) {
      if (this.blockOffset === null) {
        this.blockOffset = this.nextFreeOffset;
        this.nextFreeOffset += BLOCK_SIZE;
      }
      await this.file.writeAt(this.blockOffset + (chunk.offset % BLOCK_SIZE), chunk.data);
    }
    // Every block the chunk completes gets its BAT entry; a zero stretch can complete many.
    const end = chunk.offset + chunk.length;
    for (;;) {
      const blockEnd = Math.min(this.diskSize, (Math.floor(this.nextOffset / BLOCK_SIZE) + 1) * BLOCK_SIZE);
      if (blockEnd > end) break;
      this.nextOffset = blockEnd;
      await this.completeBlock();
      if (blockEnd === this.diskSize) break;
    }
    this.nextOffset = end;
  }

  private async completeBlock(): Promise<void> {
    await this.bat.add(
      this.blockOffset === null
        ? batEntry(PAYLOAD_BLOCK_ZERO)
        : batEntry(PAYLOAD_BLOCK_FULLY_PRESENT, this.blockOffset),
    );
    const blocksDone = Math.ceil(this.nextOffset / BLOCK_SIZE);
    if (blocksDone % CHUNK_RATIO === 0 && blocksDone < this.dataBlocksCount) {
      await this.bat.add(0n); // the chunk's sector bitmap block: SB_BLOCK_NOT_PRESENT
    }
    this.blockOffset = null;
  }

  async finish(): Promise<void> {
    checkWholeDisk(LABEL, this.nextOffset, this.diskSize);
    await this.bat.flush();

    const writeGuids = {
      fileWriteGuid: deriveGuid(this.uniqueId, 'FileWriteGuid'),
      dataWriteGuid: deriveGuid(this.uniqueId, 'DataWriteGuid'),
    };
    const regionTable = encodeRegionTable([
      { guid: BAT_REGION_GUID, fileOffset: BAT_REGION_OFFSET, length: this.batRegionLength },
      { guid: METADATA_REGION_GUID, fileOffset: METADATA_REGION_OFFSET, length: METADATA_REGION_LENGTH },
    ]);
    const metadata = encodeMetadataRegion([
      { itemId: FILE_PARAMETERS_GUID, flags: IS_REQUIRED, data: encodeFileParameters() },
      { itemId: VIRTUAL_DISK_SIZE_GUID, flags: IS_VIRTUAL_DISK | IS_REQUIRED, data: uint64LE(this.diskSize) },
      {
        itemId: PAGE_83_DATA_GUID,
        flags: IS_VIRTUAL_DISK | IS_REQUIRED,
        data: deriveGuid(this.uniqueId, 'VirtualDiskId'),
      },
      { itemId: LOGICAL_SECTOR_SIZE_GUID, flags: IS_VIRTUAL_DISK | IS_REQUIRED, data: uint32LE(LOGICAL_SECTOR_SIZE) },
      { itemId: PHYSICAL_SECTOR_SIZE_GUID, flags: IS_VIRTUAL_DISK | IS_REQUIRED, data: uint32LE(PHYSICAL_SECTOR_SIZE) },
    ]);

    await this.file.writeAt(0, encodeFileTypeIdentifier());
    for (const [i, offset] of HEADER_OFFSETS.entries()) {
      await this.file.writeAt(offset, encodeHeader({ sequenceNumber: BigInt(i + 1), ...writeGuids }));
    }
    for (const offset of REGION_TABLE_OFFSETS) await this.file.writeAt(offset, regionTable);
    await this.file.writeAt(METADATA_REGION_OFFSET, metadata);
    // Covers the rest of the BAT region and any zero tail of the last block.
    await this.file.truncate(this.nextFreeOffset);
  }
}

/** Appends 64-bit BAT entries in file order, writing them out 64 KiB at a time. */
class BatWriter {
  private readonly page = Buffer.alloc(64 * KiB);
  private entriesInPage = 0;

  constructor(
    private readonly file: OutputFile,
    private pageOffset: number,
  ) {}

  async add(entry: bigint): Promise<void> {
    this.page.writeBigUInt64LE(entry, this.entriesInPage * 8);
    this.entriesInPage++;
    if (this.entriesInPage * 8 === this.page.length) await this.flush();
  }

  async flush(): Promise<void> {
    const used = this.entriesInPage * 8;
    await this.file.writeAt(this.pageOffset, this.page.subarray(0, used));
    this.pageOffset += used;
    this.entriesInPage = 0;
  }
}
