/**
 * The contract between the raw-disk reader and the disk-format writers.
 *
 * The reader walks the raw disk once, in order, and hands every chunk to every
 * requested writer. A chunk with data is CHUNK_SIZE bytes. A stretch that holds
 * only zeros arrives as one chunk with `data: null`, whatever its length (a whole
 * number of CHUNK_SIZE chunks), so writers can leave it unallocated without looking
 * at it or walking it chunk by chunk. Writers never read the raw disk themselves and
 * never start a subprocess; they stream to their output and keep at most a few
 * chunks in memory.
 *
 * A chunk's data belongs to the reader: it stays valid until the consumer asks for
 * the chunk after the next one, then the reader reuses the memory. A writer that
 * needs the bytes after its write() has settled copies them.
 */
/** One MiB: a whole number of grains, clusters and blocks for every format we write. */
export const CHUNK_SIZE = 1024 * 1024;

export interface DiskChunk {
  /** Byte offset of the chunk in the virtual disk; a multiple of CHUNK_SIZE. */
  offset: number;
  /**
   * With data, CHUNK_SIZE, except possibly for the last chunk of the disk; without,
   * the length of the zero stretch: any number of CHUNK_SIZE chunks, and the disk's
   * short last chunk if the stretch reaches it.
   */
  length: number;
  /** The chunk's bytes, or null when every byte is zero. */
  data: Buffer | null;
}

export interface DiskImageWriter {
  /** Called once per chunk, in increasing offset order, covering the whole disk; one call at a time. */
  write(chunk: DiskChunk): Promise<void>;
  /** Called once after the last chunk: write trailers/tables and close the output. */
  finish(): Promise<void>;
  /** Called instead of finish() when the build fails: close without completing. */
  abort(): Promise<void>;
}

/** What every writer factory receives. */
export interface DiskImageWriterOptions {
  /** Path of the file to create (the caller renames it into place on success). */
  path: string;
  /** Virtual disk size in bytes; a multiple of CHUNK_SIZE. */
  diskSize: number;
}
