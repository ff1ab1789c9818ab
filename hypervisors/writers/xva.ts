/**
 * XenServer XVA writer: a tar stream holding `ova.xml` (the VM metadata, made
 * by the descriptor helper) and then the disk, as xen-api's "XenServer VM
 * import/export format" note describes it:
 *
 *   ova.xml
 *   Ref:4/00000000            block 0 of the disk (1 MiB), in the folder named after the VDI
 *   Ref:4/00000000.checksum   its SHA-1, 40 lowercase hex digits, no newline
 *   Ref:4/00000001            ...
 *
 * The number is the block's index in the disk. A block of zeros may be left
 * out, except the first and the last: readers take the block size from the
 * first and the disk size from the last (xva-img's disk-export does).
 */
import { createHash } from 'node:crypto';
import { OutputFile } from './output-file.js';
import { CHUNK_SIZE, type DiskChunk, type DiskImageWriter, type DiskImageWriterOptions } from './types.js';
import { ustarEndOfArchive, ustarHeader, ustarPadding } from './ustar.js';
import { checkPathOption, checkWholeDisk, isWholeChunks } from './writer-checks.js';

export interface XvaWriterOptions extends DiskImageWriterOptions {
  /** The VM metadata, stored as the archive's first member. */
  ovaXml: string;
  /** The VDI's reference in ova.xml, e.g. "Ref:4" (a bare "4" means the same). */
  vdiRef: string;
  /** Modification time of every member, in seconds since the epoch. */
  timestamp: number;
}

const BLOCK_SIZE = CHUNK_SIZE;
const MAX_BLOCKS = 10 ** 8; // block numbers have 8 digits
/** Starts error messages. */
const LABEL = 'XVA writer';

export function createXvaWriter(options: XvaWriterOptions): DiskImageWriter {
  const { path, diskSize, ovaXml, vdiRef, timestamp } = options;
  checkPathOption(LABEL, path);
  if (!Number.isSafeInteger(diskSize) || diskSize <= 0 || diskSize % BLOCK_SIZE !== 0 || diskSize / BLOCK_SIZE > MAX_BLOCKS) {
    throw new Error(`XVA writer: diskSize must be a positive multiple of ${BLOCK_SIZE} of at most ${MAX_BLOCKS} blocks, got ${diskSize}`);
  }
  if (typeof ovaXml !== 'string' || ovaXml === '') {
    throw new Error(`XVA writer: ovaXml must be a non-empty string, got ${JSON.stringify(ovaXml)}`);
  }
  if (typeof vdiRef !== 'string' || !/^(Ref:)?\d{1,20}$/.test(vdiRef)) {
    throw new Error(`XVA writer: vdiRef must look like "Ref:4", got ${JSON.stringify(vdiRef)}`);
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp >= 8 ** 11) {
    throw new Error(`XVA writer: timestamp must be whole seconds from 0 to ${8 ** 11 - 1}, got ${timestamp}`);
  }
  return new XvaWriter(options, vdiRef.startsWith('Ref:') ? vdiRef : `Ref:${vdiRef}`);
}

class XvaWriter implements DiskImageWriter {
  /** Opened by the first write, so a writer that never writes leaves no file. */
  private readonly file: OutputFile;
  /** Where the next member starts: the archive is written front to back. */
  private position = 0;
  private nextDiskOffset = 0;

  constructor(
    private readonly options: XvaWriterOptions,
    /** The folder holding the disk's blocks: the VDI's reference. */
    private readonly folder: string,
  ) {
    this.file = new OutputFile(options.path, LABEL);
  }

  async write(chunk: DiskChunk): Promise<void> {
    const { diskSize } = this.options;
    if (chunk.offset !== this.nextDiskOffset || !isWholeChunks(chunk, diskSize)) {
      throw new Error(`XVA writer: expected the ${BLOCK_SIZE}-byte chunk at ${this.nextDiskOffset}, got ${chunk.length} bytes at ${chunk.offset}`);
    }
    if (chunk.offset === 0) await this.addMember('ova.xml', Buffer.from(this.options.ovaXml, 'utf8'));

    if (chunk.data) {
      await this.addBlock(chunk.offset, chunk.data);
    } else {
      // All-zero blocks are left out, except the first and the last of the disk.
      const lastBlock = diskSize - BLOCK_SIZE;
      if (chunk.offset === 0) await this.addBlock(0, Buffer.alloc(BLOCK_SIZE));
      if (chunk.offset + chunk.length === diskSize && lastBlock > 0) await this.addBlock(lastBlock, Buffer.alloc(BLOCK_SIZE));
    }
    this.nextDiskOffset += chunk.length;
  }

  async finish(): Promise<void> {
    checkWholeDisk(LABEL, this.nextDiskOffset, this.options.diskSize);
    await this.append([ustarEndOfArchive()]);
    await this.file.close();
  }

  async abort(): Promise<void> {
    await this.file.remove();
  }

  private async addBlock(offset: number, block: Buffer): Promise<void> {
    const name = `${this.folder}/${String(offset / BLOCK_SIZE).padStart(8, '0')}`;
    const checksum = Buffer.from(createHash('sha1').update(block).digest('hex'), 'ascii');
    await this.addMember(name, block);
    await this.addMember(`${name}.checksum`, checksum);
  }

  private async addMember(name: string, content: Buffer): Promise<void> {
    await this.append([ustarHeader(name, content.length, this.options.timestamp), content, ustarPadding(content.length)]);
  }

  private async append(buffers: Buffer[]): Promise<void> {
    this.position += await this.file.writeAt(this.position, ...buffers);
  }
}
