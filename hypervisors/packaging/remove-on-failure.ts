/** Makes an artifact so that a failure never leaves part of it behind. */
import { rm } from 'node:fs/promises';

/** Runs `make`, which creates `file`; if it fails, removes whatever of `file` exists and rethrows. */
export async function removeOnFailure(file: string, make: () => Promise<void>): Promise<string> {
  try {
    await make();
    return file;
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
}
