/**
 * qcow2 version 3 writer, following qemu's docs/interop/qcow2.txt (field names
 * below are the spec's). 64 KiB clusters, 16-bit refcounts, no compression,
 * no backing file, no snapshots, no header extensions.
 *
 * File layout, in clusters:
 *
 *   0        header (written last, once the table offsets are known)
 *   1 ...    the disk's non-zero clusters, in disk order; after the data of
 *            each 512 MiB stretch of the disk, the L2 table that maps it (a
 *            stretch without data gets no L2 table)
 *   then     L1 table, refcount table, refcount blocks
 *
 * Putting the tables after the data, instead of reserving a worst-case
 * metadata area up front, keeps the file as small as its data, needs only one
 * L2 table in memory, and makes the refcounts simple: every cluster of the
 * file is used exactly once, so every refcount is 1.
 */
import { OutputFile } from './output-file.js';
import { isAllZero } from '../../builder/disk/all-zero.js';
import { CHUNK_SIZE, type DiskChunk, type DiskImageWriter, type DiskImageWriterOptions } from './types.js';
import { checkDiskSizeOption, checkPathOption, checkWholeDisk, isWholeChunks } from './writer-checks.js';

// ---- On-disk layout -------------------------------------------------------

const CLUSTER_BITS = 16;
const CLUSTER_SIZE = 1 << CLUSTER_BITS;
/** Entries in one L2 table (one cluster of 64-bit entries). */
const L2_ENTRIES = CLUSTER_SIZE / 8;
/** Bytes of disk mapped by one L2 table: 512 MiB. */
const L2_COVERAGE = L2_ENTRIES * CLUSTER_SIZE;
const REFCOUNT_ORDER = 4;
const REFCOUNT_BITS = 1 << REFCOUNT_ORDER;
/** Clusters whose refcounts fit in one refcount block: 32768, i.e. 2 GiB of file. */
const REFCOUNT_BLOCK_ENTRIES = (CLUSTER_SIZE * 8) / REFCOUNT_BITS;
/** The version 3 header without optional fields. */
const HEADER_LENGTH = 104;
/** Bit 63 of L1 and L2 entries: the cluster's refcount is exactly 1 (qemu-img check verifies it). */
const QCOW_OFLAG_COPIED = 1n << 63n;

export interface Qcow2Header {
  size: number;
  l1_size: number;
  l1_table_offset: number;
  refcount_table_offset: number;
  refcount_table_clusters: number;
}

/** The header cluster: the header, then zeros, which read as the end-of-extensions marker. */
export function encodeHeader(header: Qcow2Header): Buffer {
  const cluster = Buffer.alloc(CLUSTER_SIZE);
  cluster.write('QFI\xfb', 0, 'latin1'); // magic
  cluster.writeUInt32BE(3, 4); // version
  // backing_file_offset (8) and backing_file_size (16) stay 0: no backing file.
  cluster.writeUInt32BE(CLUSTER_BITS, 20);
  cluster.writeBigUInt64BE(BigInt(header.size), 24);
  // crypt_method (32) stays 0: no encryption.
  cluster.writeUInt32BE(header.l1_size, 36);
  cluster.writeBigUInt64BE(BigInt(header.l1_table_offset), 40);
  cluster.writeBigUInt64BE(BigInt(header.refcount_table_offset), 48);
  cluster.writeUInt32BE(header.refcount_table_clusters, 56);
  // nb_snapshots (60), snapshots_offset (64) and the incompatible, compatible
  // and autoclear feature bitmaps (72, 80, 88) stay 0.
  cluster.writeUInt32BE(REFCOUNT_ORDER, 96);
  cluster.writeUInt32BE(HEADER_LENGTH, 100);
  return cluster;
}

/** L1 entries needed for a disk of `diskSize` bytes. */
export function l1SizeFor(diskSize: number): number {
  return Math.ceil(diskSize / L2_COVERAGE);
}

/** Where finish() puts the tables that follow the data and L2 tables. */
export interface TablesLayout {
  l1_table_offset: number;
  refcount_table_offset: number;
  refcount_table_clusters: number;
  /** Offset of the first refcount block; the blocks follow one another. */
  refcountBlocksOffset: number;
  refcountBlockCount: number;
  /** Clusters in the whole file. */
  fileClusters: number;
}

/**
 * Lays out the L1 table, refcount table and refcount blocks after the first
 * `usedClusters` clusters. The refcount blocks must also count the refcount
 * table and themselves, so both grow until they cover the whole file.
 */
export function layoutTables(usedClusters: number, l1_size: number): TablesLayout {
  const l1Clusters = clustersFor(l1_size * 8);
  const refcountTableCluster = usedClusters + l1Clusters;
  let tableClusters = 0;
  let blockCount = 0;
  for (;;) {
    const fileClusters = refcountTableCluster + tableClusters + blockCount;
    const blocksNeeded = Math.ceil(fileClusters / REFCOUNT_BLOCK_ENTRIES);
    const tableClustersNeeded = clustersFor(blocksNeeded * 8);
    if (blocksNeeded === blockCount && tableClustersNeeded === tableClusters) {
      return {
        l1_table_offset: usedClusters * CLUSTER_SIZE,
        refcount_table_offset: refcountTableCluster * CLUSTER_SIZE,
        refcount_table_clusters: tableClusters,
        refcountBlocksOffset: (refcountTableCluster + tableClusters) * CLUSTER_SIZE,
        refcountBlockCount: blockCount,
        fileClusters,
      };
    }
    blockCount = blocksNeeded;
    tableClusters = tableClustersNeeded;
  }
}

/** An L1 or L2 entry pointing at a host cluster whose refcount is 1. */
function mappedEntry(hostOffset: number): bigint {
  return BigInt(hostOffset) | QCOW_OFLAG_COPIED;
}

function clustersFor(bytes: number): number {
  return Math.ceil(bytes / CLUSTER_SIZE);
}

// ---- Writer ---------------------------------------------------------------

export type Qcow2WriterOptions = DiskImageWriterOptions;

/** Starts error messages. */
const LABEL = 'qcow2 writer';

export function createQcow2Writer(options: Qcow2WriterOptions): DiskImageWriter {
  checkPathOption(LABEL, options.path);
  checkDiskSizeOption(LABEL, options.diskSize);
  return new Qcow2Writer(options.path, options.diskSize);
}

class Qcow2Writer implements DiskImageWriter {
  /** Opened by the first write, so a writer that never writes leaves no file. */
  private readonly file: OutputFile;
  private nextDiskOffset = 0;
  /** Where the next cluster goes; cluster 0 is kept for the header. */
  private nextHostCluster = 1;
  private readonly l1_size: number;
  /** Padded to whole clusters, as written. */
  private readonly l1Table: Buffer;
  /** The L2 table being filled, for L1 entry `l2TableIndex`. */
  private readonly l2Table = Buffer.alloc(CLUSTER_SIZE);
  private l2TableIndex = 0;
  private l2TableUsed = false;

  constructor(
    path: string,
    private readonly diskSize: number,
  ) {
    this.file = new OutputFile(path, LABEL);
    this.l1_size = l1SizeFor(diskSize);
    this.l1Table = Buffer.alloc(clustersFor(this.l1_size * 8) * CLUSTER_SIZE);
  }

  async write(chunk: DiskChunk): Promise<void> {
    if (chunk.offset !== this.nextDiskOffset || !isWholeChunks(chunk, this.diskSize)) {
      throw new Error(`qcow2 writer: expected the ${CHUNK_SIZE}-byte chunk at ${this.nextDiskOffset}, got ${chunk.length} bytes at ${chunk.offset}`);
    }
    if (chunk.data) {
      // A chunk with data never straddles two L2 tables: L2_COVERAGE is a multiple of CHUNK_SIZE.
      // The L2 table being filled goes out when data lands under another one: a zero stretch leaves it open.
      const l1Index = Math.floor(chunk.offset / L2_COVERAGE);
      if (l1Index !== this.l2TableIndex) {
        await this.flushL2Table();
        this.l2TableIndex = l1Index;
      }
      const firstHostCluster = this.nextHostCluster;
      const clusters: Buffer[] = [];
      for (let at = 0; at < chunk.length; at += CLUSTER_SIZE) {
        const cluster = chunk.data.subarray(at, at + CLUSTER_SIZE);
        if (isAllZero(cluster)) continue;
        const l2Index = ((chunk.offset + at) / CLUSTER_SIZE) % L2_ENTRIES;
        this.l2Table.writeBigUInt64BE(mappedEntry(this.nextHostCluster * CLUSTER_SIZE), l2Index * 8);
        this.l2TableUsed = true;
        clusters.push(cluster);
        this.nextHostCluster++;
      }
      await this.file.writeAt(firstHostCluster * CLUSTER_SIZE, ...clusters);
    }
    this.nextDiskOffset += chunk.length;
  }

  async finish(): Promise<void> {
    checkWholeDisk(LABEL, this.nextDiskOffset, this.diskSize);
    await this.flushL2Table();
    const layout = layoutTables(this.nextHostCluster, this.l1_size);
    await this.file.writeAt(layout.l1_table_offset, this.l1Table);

    const refcountTable = Buffer.alloc(layout.refcount_table_clusters * CLUSTER_SIZE);
    for (let i = 0; i < layout.refcountBlockCount; i++) {
      refcountTable.writeBigUInt64BE(BigInt(layout.refcountBlocksOffset + i * CLUSTER_SIZE), i * 8);
    }
    await this.file.writeAt(layout.refcount_table_offset, refcountTable);

    for (let i = 0; i < layout.refcountBlockCount; i++) {
      const block = Buffer.alloc(CLUSTER_SIZE);
      const counted = Math.min(REFCOUNT_BLOCK_ENTRIES, layout.fileClusters - i * REFCOUNT_BLOCK_ENTRIES);
      for (let entry = 0; entry < counted; entry++) block.writeUInt16BE(1, entry * 2);
      await this.file.writeAt(layout.refcountBlocksOffset + i * CLUSTER_SIZE, block);
    }

    const header = encodeHeader({
      size: this.diskSize,
      l1_size: this.l1_size,
      l1_table_offset: layout.l1_table_offset,
      refcount_table_offset: layout.refcount_table_offset,
      refcount_table_clusters: layout.refcount_table_clusters,
    });
    await this.file.writeAt(0, header);
    await this.file.close();
  }

  async abort(): Promise<void> {
    await this.file.remove();
  }

  /** Writes the L2 table being filled, if it maps anything, and points the L1 table at it. */
  private async flushL2Table(): Promise<void> {
    if (!this.l2TableUsed) return;
    const hostOffset = this.nextHostCluster * CLUSTER_SIZE;
    await this.file.writeAt(hostOffset, this.l2Table);
    this.nextHostCluster++;
    this.l1Table.writeBigUInt64BE(mappedEntry(hostOffset), this.l2TableIndex * 8);
    this.l2Table.fill(0);
    this.l2TableUsed = false;
  }
}
