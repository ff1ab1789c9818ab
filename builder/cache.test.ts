import { test } from 'node:test';
import { entriesAfterRemoval } from './test-support.js';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { StageCache } from './cache.js';
import { canonicalJson, hashInputs } from './hash.js';
import { mountsUnder } from './cleanup.js';

const tempCache = async () => new StageCache(await mkdtemp(path.join(tmpdir(), 'lbbuild-cache-')));

test('input hashes ignore key order and undefined, and see every value', () => {
  assert.equal(hashInputs({ a: 1, b: [1, 2], c: undefined }), hashInputs({ b: [1, 2], a: 1 }));
  assert.notEqual(hashInputs({ a: 1, b: [1, 2] }), hashInputs({ a: 1, b: [2, 1] }));
  assert.equal(canonicalJson({ z: { y: 1, x: 'q' } }), '{"z":{"x":"q","y":1}}');
});

test('an entry is built once, then reused', async () => {
  const cache = await tempCache();
  let builds = 0;
  const build = async (dir: string) => {
    builds++;
    await writeFile(path.join(dir, 'out'), 'data');
  };
  const first = await cache.produce('stage', 'k1', build);
  const second = await cache.produce('stage', 'k1', build);
  assert.deepEqual([first.cached, second.cached, builds], [false, true, 1]);
  assert.equal(await readFile(path.join(second.dir, 'out'), 'utf8'), 'data');
  await cache.produce('stage', 'k2', build);
  assert.equal(builds, 2, 'another key builds again');
});

test('a failed build leaves no entry and no temporary folder', async () => {
  const cache = await tempCache();
  await assert.rejects(
    cache.produce('stage', 'k', async (dir) => {
      await writeFile(path.join(dir, 'half'), 'x');
      throw new Error('tool failed');
    }),
    /tool failed/,
  );
  assert.deepEqual(await entriesAfterRemoval(path.join(cache.root, 'tmp')), []);
  assert.deepEqual(await readdir(cache.root).then((n) => n.filter((x) => x === 'stages')), []);
  const retry = await cache.produce('stage', 'k', async () => undefined);
  assert.equal(retry.cached, false);
});

test('temporary folders of dead builds are removed, those of live ones kept', async () => {
  const cache = await tempCache();
  await mkdir(path.join(cache.root, 'tmp', 'disk-abc.999999999.dead'), { recursive: true });
  await mkdir(path.join(cache.root, 'tmp', `disk-abc.${process.ppid}.live`), { recursive: true });
  await cache.removeAbandoned();
  assert.deepEqual(await readdir(path.join(cache.root, 'tmp')), [`disk-abc.${process.ppid}.live`]);
});

test('a failed build that left a mount in its folder (a killed build root) is detached and removed', async () => {
  const cache = await tempCache();
  let mountPoint = '';
  await assert.rejects(
    cache.produce('stage', 'k', async (dir) => {
      mountPoint = path.join(dir, 'root with space/proc');
      await mkdir(mountPoint, { recursive: true });
      await execa('mount', ['-t', 'tmpfs', 'lbbuild-test', mountPoint]);
      await writeFile(path.join(mountPoint, 'inside'), 'x');
      assert.deepEqual(mountsUnder(dir), [mountPoint]);
      throw new Error('the tool was killed');
    }),
    /the tool was killed/,
  );
  assert.deepEqual(mountsUnder(cache.root), [], 'the mount is gone');
  assert.deepEqual(await entriesAfterRemoval(path.join(cache.root, 'tmp')), [], 'and so is the folder');
});

test('two builds of one entry side by side build it once: the second waits for the first', async () => {
  const cache = await tempCache();
  let builds = 0;
  let finishFirst!: () => void;
  const firstMayFinish = new Promise<void>((resolve) => (finishFirst = resolve));
  let firstStarted!: () => void;
  const firstIsBuilding = new Promise<void>((resolve) => (firstStarted = resolve));
  const waited: string[] = [];
  const first = cache.produce('stage', 'k', async (dir) => {
    builds++;
    firstStarted();
    await firstMayFinish;
    await writeFile(path.join(dir, 'out'), 'first');
  });
  // The second starts once the first holds the lock: started together, either may win it.
  await firstIsBuilding;
  const second = cache.produce('stage', 'k', async () => void builds++, { log: (line) => waited.push(line) });
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(builds, 1, 'the second build did not start');
  assert.match(waited.join('\n'), new RegExp(`waiting for process ${process.pid}, which is building this stage`));
  finishFirst();
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual([a.cached, b.cached, builds], [false, true, 1]);
  assert.equal(await readFile(path.join(b.dir, 'out'), 'utf8'), 'first');
  assert.deepEqual(await readdir(path.join(cache.root, 'locks')), [], 'the lock is released');
});

test("a dead build's lock is taken over, and a stopped build stops waiting", async () => {
  const cache = await tempCache();
  await mkdir(path.join(cache.root, 'locks'), { recursive: true });
  const dead = execa('true');
  await dead;
  await writeFile(path.join(cache.root, 'locks', 'stage-k'), `${dead.pid}\n`);
  const taken = await cache.produce('stage', 'k', async (dir) => writeFile(path.join(dir, 'out'), 'x'));
  assert.equal(taken.cached, false);

  const live = execa('sleep', ['30']);
  try {
    await writeFile(path.join(cache.root, 'locks', 'stage-j'), `${live.pid}\n`);
    const stop = new AbortController();
    const waiting = cache.produce('stage', 'j', async () => assert.fail('built under a live lock'), { signal: stop.signal });
    setTimeout(() => stop.abort(), 300);
    await assert.rejects(waiting, { name: 'StoppedError' });
  } finally {
    live.kill();
    await live.catch(() => undefined);
  }
});
