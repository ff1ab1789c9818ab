/**
 * Feeds one pass over the raw disk to every disk-format writer.
 */
import type { DiskChunk, DiskImageWriter } from './types.js';

export interface FanOutResult {
  /** Bytes in chunks that held data (non-null); the OVF "populated size". */
  allocatedBytes: number;
}

/**
 * Hands every chunk of `source` to all `writers` at once and waits for all of
 * them before the next chunk; meanwhile the source already reads that next
 * chunk, so the fan-out itself holds at most two chunks: the reader may reuse
 * a chunk's memory once the chunk after the next is asked for (types.ts).
 *
 * If the source or any writer's write() fails, the source is closed, every
 * writer's abort() is called and the first error is rethrown. Otherwise every
 * writer's finish() is called; if some of those fail, the failed ones are
 * aborted and the first error is rethrown (the writers that did finish have
 * complete files, which the caller, owning the paths, removes).
 */
export async function writeDiskImages(
  source: AsyncIterable<DiskChunk>,
  writers: readonly DiskImageWriter[],
): Promise<FanOutResult> {
  const seen: FanOutResult = { allocatedBytes: 0 };
  let chunks: AsyncIterator<DiskChunk> | undefined;
  let pending: Promise<IteratorResult<DiskChunk>> | undefined;
  try {
    chunks = source[Symbol.asyncIterator]();
    pending = readAhead(chunks);
    for (let next = await pending; !next.done; next = await pending) {
      const chunk = next.value;
      pending = readAhead(chunks);
      await allSettledOrThrow(writers.map(async (writer) => writer.write(chunk)));
      if (chunk.data) seen.allocatedBytes += chunk.length;
    }
  } catch (error) {
    // Let a read in flight settle, then close the source (a no-op if it failed or ended).
    await pending?.then(() => chunks?.return?.()).catch(() => undefined);
    await Promise.allSettled(writers.map(async (writer) => writer.abort()));
    throw error;
  }

  const finished = await Promise.allSettled(writers.map(async (writer) => writer.finish()));
  const failed = writers.filter((_, i) => finished[i].status === 'rejected');
  if (failed.length > 0) {
    await Promise.allSettled(failed.map(async (writer) => writer.abort()));
    throw firstRejection(finished);
  }
  return seen;
}

/**
 * Starts reading the next chunk. A failure is marked as handled at once, since
 * it may come while the writers are still busy; it is thrown where awaited.
 */
function readAhead(chunks: AsyncIterator<DiskChunk>): Promise<IteratorResult<DiskChunk>> {
  const next = chunks.next();
  next.catch(() => undefined);
  return next;
}

/** Waits for every task, then throws the first failure, so no writer is still busy when others are aborted. */
async function allSettledOrThrow(tasks: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  if (results.some((result) => result.status === 'rejected')) throw firstRejection(results);
}

function firstRejection(results: PromiseSettledResult<void>[]): unknown {
  return results.find((result): result is PromiseRejectedResult => result.status === 'rejected')?.reason;
}
