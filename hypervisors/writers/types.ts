/**
 * The contract between the raw-disk reader and the disk-format writers.
 *
 * The reader walks the raw disk once, in order, in chunks of CHUNK_SIZE bytes,
 * and hands every chunk to every requested writer. A chunk that holds only
 * zeros arrives with `data: null`, so writers can leave it unallocated without
 * looking at it. Writers never read the raw disk themselves and never start a
 * subprocess; they stream to their output and keep at most a few chunks in memory.
 */

/** One MiB: a whole number of grains, clusters and blocks for every format we write. */
export const CHUNK_SIZE = 1024 * 1024;

export interface DiskChunk {
  /** Byte offset of the chunk in the virtual disk; a multiple of CHUNK_SIZE. */
  offset: number;
  /** CHUNK_SIZE, except possibly for the last chunk of the disk. */
  length: number;
  /** The chunk's bytes, or null when every byte is zero. */
  data: Buffer | null;
}

export interface DiskImageWriter {
  /** Called once per chunk, in increasing offset order, covering the whole disk. */
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
