/**
 * The file a disk-format writer creates: positional writes that must write
 * every byte, closed by the writer's finish() and removed by its abort().
 */
import { open, rm, type FileHandle } from 'node:fs/promises';

export class OutputFile {
  /** Set once the file is being opened (created, or truncated if it exists). */
  private handle: Promise<FileHandle> | undefined;

  /** `label` starts its error messages, e.g. "VHD writer". */
  constructor(
    readonly path: string,
    private readonly label: string,
  ) {}

  /** Opens the file at once; a file made with `new` is opened by its first write. */
  static async open(path: string, label: string): Promise<OutputFile> {
    const file = new OutputFile(path, label);
    await file.opened();
    return file;
  }

  /** Writes `buffers` one after the other from byte `position`; throws unless every byte was written. */
  async writeAt(position: number, ...buffers: Buffer[]): Promise<number> {
    const length = buffers.reduce((total, buffer) => total + buffer.length, 0);
    const { bytesWritten } = await (await this.opened()).writev(buffers, position);
    if (bytesWritten !== length) {
      throw new Error(
        `${this.label}: short write to ${this.path} at byte ${position}: ${bytesWritten} of ${length} bytes`,
      );
    }
    return bytesWritten;
  }

  /** Sets the file's size, cutting it or extending it with a hole. */
  async truncate(length: number): Promise<void> {
    await (await this.opened()).truncate(length);
  }

  /** Closes the file, if it was opened; the writer's finish(). */
  async close(): Promise<void> {
    if (this.handle) await (await this.handle).close();
  }

  /** Closes the file if it is open and removes it; the writer's abort(). */
  async remove(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }

  private opened(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'w');
    return this.handle;
  }
}
