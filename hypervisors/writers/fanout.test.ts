import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { writeDiskImages } from './fanout.js';
import { createQcow2Writer } from './qcow2.js';
import { READ_SIZE, readRawDisk } from './raw-source.js';
import { exists, makeDisk, makeSampleDisk, SAMPLE_DATA_CHUNKS, SAMPLE_DISK_SIZE, useTempDir } from './test-support.js';
import { CHUNK_SIZE, type DiskChunk, type DiskImageWriter } from './types.js';
import { createXvaWriter } from './xva.js';

const MiB = CHUNK_SIZE;

const dir = useTempDir('lbbuild-fanout-');

/** Every chunk, with a copy of its data: the reader reuses its buffers. */
async function collect(source: AsyncIterable<DiskChunk>): Promise<DiskChunk[]> {
  const chunks: DiskChunk[] = [];
  for await (const chunk of source) chunks.push({ ...chunk, data: chunk.data && Buffer.from(chunk.data) });
  return chunks;
}

function describeChunk(chunk: DiskChunk): string {
  const content = chunk.data ? createHash('sha1').update(chunk.data).digest('hex') : 'null';
  return `${chunk.offset}+${chunk.length}:${content}`;
}

/** [offset, length] in MiB, and whether the chunk has data. */
const shape = (chunks: DiskChunk[]) => chunks.map((c) => [c.offset / MiB, c.length / MiB, c.data !== null]);

describe('readRawDisk', () => {
  test('yields the same chunks with and without extents: 1 MiB ones with data, one null chunk per zero stretch', async () => {
    const path = dir('same.raw');
    const extents = await makeSampleDisk(path);
    const read = await collect(readRawDisk(path));
    const skipped = await collect(readRawDisk(path, extents));

    assert.deepEqual(read.map(describeChunk), skipped.map(describeChunk));
    // Chunk 41 was read (it is in an extent) but holds zeros, so it is part of a null stretch too.
    assert.deepEqual(shape(read), [
      [0, 1, true], [1, 1, true], [2, 8, false], [10, 1, true], [11, 8, false],
      [19, 1, true], [20, 1, true], [21, 42, false], [63, 1, true],
    ]);
    assert.deepEqual(read.flatMap((chunk) => (chunk.data ? [chunk.offset / MiB] : [])), SAMPLE_DATA_CHUNKS);
  });

  test('does not read outside the extents', async () => {
    const path = dir('outside.raw');
    await makeDisk(path, 8 * MiB, [
      [2 * MiB + 10, randomBytes(10)],
      [5 * MiB, randomBytes(MiB)],
    ]);
    const chunks = await collect(readRawDisk(path, [[2 * MiB + 10, 10]]));
    assert.deepEqual(shape(chunks), [[0, 2, false], [2, 1, true], [3, 5, false]]);
  });

  test('a hole costs one chunk however long it is', async () => {
    const path = dir('big.raw');
    const size = 64 * 1024 * MiB;
    const extents = await makeDisk(path, size, [
      [0, randomBytes(10)],
      [size - 10, randomBytes(10)],
    ]);
    assert.deepEqual(shape(await collect(readRawDisk(path, extents))), [[0, 1, true], [1, 64 * 1024 - 2, false], [64 * 1024 - 1, 1, true]]);
  });

  test('reads into a few reused buffers, each chunk intact until the one after the next is asked for', async () => {
    const path = dir('reuse.raw');
    const chunkCount = 6 * (READ_SIZE / MiB) + 3;
    const writes = Array.from({ length: chunkCount }, (_, i): [number, Buffer] => [i * MiB, i % 7 === 3 ? Buffer.alloc(MiB) : randomBytes(MiB)]);
    await makeDisk(path, chunkCount * MiB, writes);
    const expected = new Map(writes.filter(([, bytes]) => bytes.some((b) => b !== 0)));
    const buffers = new Set<ArrayBufferLike>();
    const chunks = readRawDisk(path)[Symbol.asyncIterator]();
    let previous: DiskChunk | undefined;
    let dataChunks = 0;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      // Like the fan-out: the previous chunk is still being written while the next one arrives.
      if (previous?.data) assert.ok(previous.data.equals(expected.get(previous.offset)!), `chunk at ${previous.offset / MiB} MiB intact`);
      if (next.value.data) {
        buffers.add(next.value.data.buffer);
        dataChunks++;
      }
      previous = next.value;
    }
    assert.equal(dataChunks, expected.size);
    assert.ok(buffers.size <= 5, `${buffers.size} buffers for ${dataChunks} chunks`);
  });

  test('a short last chunk', async () => {
    const path = dir('short.raw');
    const size = 2 * MiB + 512;
    const writes: Array<[number, Buffer]> = [
      [0, randomBytes(MiB)],
      [MiB, randomBytes(MiB)],
      [2 * MiB, randomBytes(512)],
    ];
    await makeDisk(path, size, writes);
    const chunks = await collect(readRawDisk(path));
    assert.deepEqual(
      chunks.map((chunk) => [chunk.offset, chunk.length]),
      [
        [0, MiB],
        [MiB, MiB],
        [2 * MiB, 512],
      ],
    );
    chunks.forEach((chunk, i) => assert.ok(chunk.data?.equals(writes[i][1]), `chunk ${i} has its bytes`));
  });

  test('rejects bad extents', async () => {
    const path = dir('bad-extents.raw');
    await makeDisk(path, 4 * MiB, []);
    await assert.rejects(
      collect(
        readRawDisk(path, [
          [MiB, 1],
          [0, 1],
        ]),
      ),
      /extents\[1\] = \[0, 1\].*sorted/,
    );
    await assert.rejects(collect(readRawDisk(path, [[3 * MiB, MiB + 1]])), /extents\[0\].*past the end/);
    await assert.rejects(collect(readRawDisk(path, [[-1, 1]])), /extents\[0\].*non-negative/);
  });
});

describe('writeDiskImages', () => {
  interface Recorder extends DiskImageWriter {
    seen: string[];
    finished: boolean;
    aborted: boolean;
  }

  function recorder(hooks: { failWriteAt?: number; failFinish?: boolean } = {}): Recorder {
    return {
      seen: [],
      finished: false,
      aborted: false,
      async write(chunk) {
        if (chunk.offset === hooks.failWriteAt) throw new Error(`write failed at ${chunk.offset}`);
        this.seen.push(describeChunk(chunk));
      },
      async finish() {
        if (hooks.failFinish) throw new Error('finish failed');
        this.finished = true;
      },
      async abort() {
        this.aborted = true;
      },
    };
  }

  /** Wraps a source to tell whether it was closed. */
  function tracked(source: AsyncIterable<DiskChunk>): { chunks: AsyncIterable<DiskChunk>; closed: () => boolean } {
    let closed = false;
    async function* chunks() {
      try {
        yield* source;
      } finally {
        closed = true;
      }
    }
    return { chunks: chunks(), closed: () => closed };
  }

  test('every writer gets every chunk, and the counts come back', async () => {
    const path = dir('three.raw');
    await makeSampleDisk(path);
    const writers = [recorder(), recorder(), recorder()];
    const result = await writeDiskImages(readRawDisk(path), writers);

    assert.deepEqual(result, { allocatedBytes: SAMPLE_DATA_CHUNKS.length * MiB });
    const expected = (await collect(readRawDisk(path))).map(describeChunk);
    for (const writer of writers) {
      assert.deepEqual(writer.seen, expected);
      assert.equal(writer.finished, true);
      assert.equal(writer.aborted, false);
    }
  });

  test('a failing writer aborts the others, whose partial files disappear', async () => {
    const path = dir('fail.raw');
    await makeSampleDisk(path);
    const qcow2Path = dir('fail.qcow2');
    const xvaPath = dir('fail.xva');
    const failing = recorder({ failWriteAt: 20 * MiB });
    const bystander = recorder();
    const source = tracked(readRawDisk(path));
    const writers = [
      createQcow2Writer({ path: qcow2Path, diskSize: SAMPLE_DISK_SIZE }),
      failing,
      createXvaWriter({ path: xvaPath, diskSize: SAMPLE_DISK_SIZE, ovaXml: '<value/>', vdiRef: '1', timestamp: 0 }),
      bystander,
    ];

    await assert.rejects(writeDiskImages(source.chunks, writers), /write failed at 20971520/);
    assert.equal(await exists(qcow2Path), false);
    assert.equal(await exists(xvaPath), false);
    for (const writer of [failing, bystander]) {
      assert.equal(writer.aborted, true);
      assert.equal(writer.finished, false);
    }
    assert.equal(bystander.seen.length, 7, 'the bystander got the 7 chunks up to the one at 20 MiB before the abort');
    assert.match(bystander.seen.at(-1)!, /^20971520\+/);
    assert.equal(source.closed(), true);
  });

  test('a failing source aborts every writer', async () => {
    async function* broken(): AsyncGenerator<DiskChunk> {
      yield { offset: 0, length: MiB, data: null };
      throw new Error('disk read failed');
    }
    const writers = [recorder(), recorder()];
    await assert.rejects(writeDiskImages(broken(), writers), /disk read failed/);
    for (const writer of writers) {
      assert.equal(writer.seen.length, 1);
      assert.equal(writer.aborted, true);
      assert.equal(writer.finished, false);
    }
  });

  test('a read that fails while the writers are busy aborts them, with no unhandled rejection', async () => {
    async function* failsLater(): AsyncGenerator<DiskChunk> {
      yield { offset: 0, length: MiB, data: null };
      await delay(5);
      throw new Error('late read failure');
    }
    const slow = recorder();
    const write = slow.write.bind(slow);
    slow.write = async (chunk) => {
      await delay(50);
      await write(chunk);
    };
    await assert.rejects(writeDiskImages(failsLater(), [slow]), /late read failure/);
    assert.equal(slow.seen.length, 1);
    assert.equal(slow.aborted, true);
  });

  test('a failing finish() aborts that writer and is rethrown', async () => {
    const path = dir('finish.raw');
    await makeDisk(path, 4 * MiB, []);
    const good = recorder();
    const bad = recorder({ failFinish: true });
    await assert.rejects(writeDiskImages(readRawDisk(path), [good, bad]), /finish failed/);
    assert.equal(good.finished, true);
    assert.equal(good.aborted, false);
    assert.equal(bad.aborted, true);
  });
});
