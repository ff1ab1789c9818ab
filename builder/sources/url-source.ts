/** Downloads a tarball over http(s) to a file. */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildError } from '../errors.js';

export async function downloadUrl(url: string, dest: string, label: string, signal?: AbortSignal): Promise<void> {
  const fail = (why: string) => new BuildError(`${label}: cannot download ${url}: ${why}`);
  const response = await fetch(url, { signal }).catch((error: Error) => {
    if (signal?.aborted) throw error;
    throw fail((error.cause as Error | undefined)?.message ?? error.message);
  });
  if (!response.ok || !response.body) throw fail(`HTTP ${response.status}`);
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(dest), { signal }).catch(
    (error: Error) => {
      if (signal?.aborted) throw error;
      throw fail(error.message);
    },
  );
}
