/**
 * monolithicSparse VMDK writer: the growable single-file disk of VMware
 * Workstation and Player. See vmdk-layout.ts for the format itself.
 *
 * All metadata is preallocated up front, as VMware does: the header, descriptor
 * and both grain directories are written when the file is opened, and the grain
 * tables start out as zeros (every grain unallocated). Non-zero grains are then
 * appended uncompressed in disk order, and each grain table is filled in, in both
 * copies, once its 32 MiB of disk has gone by.
 */
import { OutputFile } from './output-file.js';
import type { DiskChunk, DiskImageWriter } from './types.js';
import {
  GRAIN_SIZE,
  GT_COVERAGE_BYTES,
  NUM_GTES_PER_GT,
  SECTOR_SIZE,
  checkChunk,
  descriptorFor,
  encodeSectorTable,
  encodeSparseExtentHeader,
  monolithicSparseLayout,
  nonZeroGrains,
  tableEntry,
  validateVmdkWriterOptions,
  type MonolithicSparseLayout,
  type VmdkWriterOptions,
} from './vmdk-layout.js';
import { checkWholeDisk } from './writer-checks.js';

export function createVmdkSparseWriter(options: VmdkWriterOptions): Promise<DiskImageWriter> {
  validateVmdkWriterOptions(options);
  return MonolithicSparseWriter.open(options);
}

class MonolithicSparseWriter implements DiskImageWriter {
  private nextChunkOffset = 0;
  /** Where the next grain goes in the file. */
  private nextGrainSector: number;
  private grainTableIndex = 0;
  private grainTable = new Uint32Array(NUM_GTES_PER_GT);

  private constructor(
    private readonly options: VmdkWriterOptions,
    private readonly file: OutputFile,
    private readonly layout: MonolithicSparseLayout,
  ) {
    this.nextGrainSector = layout.header.overHead;
  }

  static async open(options: VmdkWriterOptions): Promise<MonolithicSparseWriter> {
    const layout = monolithicSparseLayout(options.diskSize / SECTOR_SIZE);
    const { header } = layout;
    const descriptor = descriptorFor(options, 'monolithicSparse');
    const file = await OutputFile.open(options.path, 'vmdk');
    const writer = new MonolithicSparseWriter(options, file, layout);
    try {
      // Sizing the file first makes the preallocated grain tables read as zeros.
      await file.truncate(header.overHead * SECTOR_SIZE);
      await writer.writeAt(0, encodeSparseExtentHeader(header));
      await writer.writeAt(header.descriptorOffset, descriptor);
      await writer.writeAt(header.rgdOffset, encodeSectorTable(layout.redundantGrainDirectory));
      await writer.writeAt(header.gdOffset, encodeSectorTable(layout.grainDirectory));
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer;
  }

  async write(chunk: DiskChunk): Promise<void> {
    checkChunk(chunk, this.nextChunkOffset, this.options.diskSize);
    this.nextChunkOffset += chunk.length;
    // Grain tables have fixed places: the one being filled is written once a grain lands in another one.
    if (chunk.data === null) return;

    // A chunk with data never straddles two grain tables: 1 MiB divides their 32 MiB.
    const tableIndex = Math.floor(chunk.offset / GT_COVERAGE_BYTES);
    if (tableIndex !== this.grainTableIndex) {
      await this.writeGrainTable();
      this.grainTableIndex = tableIndex;
    }

    const grains = nonZeroGrains(chunk.offset, chunk.data);
    if (grains.length === 0) return;
    const firstSector = this.nextGrainSector;
    for (const { lba } of grains) {
      this.grainTable[(lba / GRAIN_SIZE) % NUM_GTES_PER_GT] = tableEntry(this.nextGrainSector);
      this.nextGrainSector += GRAIN_SIZE;
    }
    await this.writeAt(firstSector, ...grains.map((grain) => grain.data));
  }

  async finish(): Promise<void> {
    checkWholeDisk('vmdk', this.nextChunkOffset, this.options.diskSize);
    await this.writeGrainTable();
    await this.file.close();
  }

  async abort(): Promise<void> {
    await this.file.remove();
  }

  /** Fills in the current grain table in both copies; an empty one is already zeros. */
  private async writeGrainTable(): Promise<void> {
    if (this.grainTable.every((entry) => entry === 0)) return;
    const table = encodeSectorTable(this.grainTable);
    await this.writeAt(this.layout.grainDirectory[this.grainTableIndex], table);
    await this.writeAt(this.layout.redundantGrainDirectory[this.grainTableIndex], table);
    this.grainTable = new Uint32Array(NUM_GTES_PER_GT);
  }

  private async writeAt(sector: number, ...buffers: Buffer[]): Promise<void> {
    await this.file.writeAt(sector * SECTOR_SIZE, ...buffers);
  }
}
