/**
 * streamOptimized VMDK writer: the compressed, single-pass format that ESXi and
 * OVF/OVA packages take. See vmdk-layout.ts for the format itself.
 *
 * The file is written strictly front to back, so it could go to a pipe:
 * header and descriptor, then for each non-zero grain a deflated grain marker,
 * each grain table once its 32 MiB of disk has gone by (only tables with
 * grains in them), then the grain directory, footer and end-of-stream marker.
 */
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';

import { OutputFile } from './output-file.js';
import type { DiskChunk, DiskImageWriter } from './types.js';
import {
  GD_AT_END,
  GRAIN_SIZE,
  GT_COVERAGE_BYTES,
  GT_SECTORS,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  NUM_GTES_PER_GT,
  SECTOR_SIZE,
  checkChunk,
  descriptorFor,
  encodeGrainMarker,
  encodeMetadataMarker,
  encodeSectorTable,
  encodeSparseExtentHeader,
  grainDirectoryEntries,
  nonZeroGrains,
  streamOptimizedHeader,
  tableEntry,
  validateVmdkWriterOptions,
  type VmdkWriterOptions,
} from './vmdk-layout.js';
import { checkWholeDisk } from './writer-checks.js';

/** zlib (RFC 1950) framing, which is what VMware and qemu put in grain markers. */
const deflateGrain = promisify(deflate);

/**
 * Chunks being compressed at once. Each grain is its own deflate call on the
 * libuv threadpool, so this keeps every core busy while holding only a few MiB.
 */
const CHUNKS_IN_FLIGHT = 4;

const SECTORS_PER_GT = GT_COVERAGE_BYTES / SECTOR_SIZE;

/**
 * A chunk's compressed grains, by the chunk the fan-out hands to every writer:
 * when two streams are written at once (the esx and esx-ovf09 targets), the
 * second takes the first one's work instead of compressing the grains again.
 */
const compressedChunks = new WeakMap<DiskChunk, Promise<CompressedGrain[]>>();

interface CompressedGrain {
  lba: number;
  compressed: Buffer;
}

export function createVmdkStreamWriter(options: VmdkWriterOptions): Promise<DiskImageWriter> {
  validateVmdkWriterOptions(options);
  return StreamOptimizedWriter.open(options);
}

class StreamOptimizedWriter implements DiskImageWriter {
  private nextChunkOffset = 0;
  /** Compressed chunks, oldest first; they are written in this order. */
  private readonly inFlight: Array<Promise<CompressedGrain[]>> = [];

  /** Bytes on disk; records appended after that wait in `pending` for one write. */
  private written = 0;
  private pending: Buffer[] = [];
  /** Where the next appended record starts. */
  private nextSector = 0;

  private readonly grainDirectory: Uint32Array;
  private grainTableIndex = 0;
  private grainTable = new Uint32Array(NUM_GTES_PER_GT);

  private constructor(
    private readonly options: VmdkWriterOptions,
    private readonly file: OutputFile,
    descriptor: Buffer,
  ) {
    this.grainDirectory = new Uint32Array(grainDirectoryEntries(this.capacity));
    const header = streamOptimizedHeader(this.capacity, GD_AT_END);
    this.append(encodeSparseExtentHeader(header));
    this.append(descriptor);
    // A stream has no holes: pad with zeros up to the first grain.
    this.append(Buffer.alloc((header.overHead - this.nextSector) * SECTOR_SIZE));
  }

  static async open(options: VmdkWriterOptions): Promise<StreamOptimizedWriter> {
    const descriptor = descriptorFor(options, 'streamOptimized');
    return new StreamOptimizedWriter(options, await OutputFile.open(options.path, 'vmdk'), descriptor);
  }

  private get capacity(): number {
    return this.options.diskSize / SECTOR_SIZE;
  }

  async write(chunk: DiskChunk): Promise<void> {
    checkChunk(chunk, this.nextChunkOffset, this.options.diskSize);
    this.nextChunkOffset += chunk.length;
    if (chunk.data === null) return;

    let compressing = compressedChunks.get(chunk);
    if (!compressing) {
      compressing = compressGrains(chunk.offset, chunk.data);
      compressedChunks.set(chunk, compressing);
    }
    this.inFlight.push(compressing);

    while (this.inFlight.length >= CHUNKS_IN_FLIGHT) {
      this.appendGrains(await this.inFlight.shift()!);
      await this.flush();
    }
  }

  async finish(): Promise<void> {
    checkWholeDisk('vmdk', this.nextChunkOffset, this.options.diskSize);
    while (this.inFlight.length > 0) this.appendGrains(await this.inFlight.shift()!);
    this.closeGrainTable();

    const directory = encodeSectorTable(this.grainDirectory);
    this.append(encodeMetadataMarker(MARKER_GD, directory.length / SECTOR_SIZE));
    const gdOffset = this.append(directory);
    this.append(encodeMetadataMarker(MARKER_FOOTER, 1));
    this.append(encodeSparseExtentHeader(streamOptimizedHeader(this.capacity, gdOffset)));
    this.append(encodeMetadataMarker(MARKER_EOS, 0));
    await this.flush();
    await this.file.close();
  }

  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0));
    await this.file.remove();
  }

  private appendGrains(grains: CompressedGrain[]): void {
    for (const { lba, compressed } of grains) {
      const tableIndex = Math.floor(lba / SECTORS_PER_GT);
      if (tableIndex !== this.grainTableIndex) {
        this.closeGrainTable();
        this.grainTableIndex = tableIndex;
      }
      const sector = this.append(encodeGrainMarker(lba, compressed));
      this.grainTable[(lba / GRAIN_SIZE) % NUM_GTES_PER_GT] = tableEntry(sector);
    }
  }

  /** Writes the current grain table, unless no grain landed in it (its GD entry stays 0). */
  private closeGrainTable(): void {
    if (this.grainTable.every((entry) => entry === 0)) return;
    this.append(encodeMetadataMarker(MARKER_GT, GT_SECTORS));
    this.grainDirectory[this.grainTableIndex] = tableEntry(
      this.append(encodeSectorTable(this.grainTable)),
    );
    this.grainTable = new Uint32Array(NUM_GTES_PER_GT);
  }

  /** Queues a sector-aligned record; returns the sector it starts at. */
  private append(record: Buffer): number {
    const sector = this.nextSector;
    this.pending.push(record);
    this.nextSector += record.length / SECTOR_SIZE;
    return sector;
  }

  private async flush(): Promise<void> {
    const records = this.pending;
    this.pending = [];
    this.written += await this.file.writeAt(this.written, ...records);
  }
}

function compressGrains(offset: number, data: Buffer): Promise<CompressedGrain[]> {
  // Copy: the reader reuses its buffer once we return, and deflate runs later.
  const grains = nonZeroGrains(offset, data).map((grain) => ({ lba: grain.lba, data: Buffer.from(grain.data) }));
  const compressing = Promise.all(grains.map(async ({ lba, data }) => ({ lba, compressed: await deflateGrain(data) })));
  // Awaited in order by every writer that takes it, in write(), finish() or abort(); this
  // only stops a failure that happens before then from counting as an unhandled rejection.
  compressing.catch(() => {});
  return compressing;
}
