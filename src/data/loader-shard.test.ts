// Data-parallel sharding: N ranks with a 'batch' shard see together exactly
// the batches one process sees (same seeded order, each global batch cut
// into contiguous parts), and 'split' shards cover the split once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader, type DataLoaderOptions } from './loader.js';
import { syntheticDataset } from './testing.js';
import { normalize } from './transforms.js';

async function batches(o: DataLoaderOptions, n: number, epoch: number): Promise<{ indices: number[]; x: number[] }[]> {
  const loader = new DataLoader(syntheticDataset(n, [1, 2, 2], 3), o);
  const out: { indices: number[]; x: number[] }[] = [];
  try {
    for await (const b of loader.epoch(epoch)) {
      out.push({ indices: [...b.indices], x: [...(b.x.data() as Float32Array)] });
      b.x.dispose();
      b.y.dispose();
    }
    assert.equal(out.length, loader.length, 'length is the number of batches yielded');
  } finally {
    await loader.close();
  }
  return out;
}

test("a 'batch' shard: rank r takes positions r·B/N … (r+1)·B/N of every global batch of the single-process order", async () => {
  const base = { shuffle: true, seed: 7, transform: normalize([0.5], [0.25]) };
  for (const prefetch of [0, 2]) {
    const single = await batches({ ...base, batchSize: 8, prefetch }, 37, 3);
    const r0 = await batches({ ...base, batchSize: 8, prefetch, shard: { rank: 0, world: 2 } }, 37, 3);
    const r1 = await batches({ ...base, batchSize: 8, prefetch, shard: { rank: 1, world: 2 } }, 37, 3);
    // 37 = 4·8 + 5: the last global batch of 5 splits 2 / 3.
    assert.deepEqual(r0.map((b) => b.indices.length), [4, 4, 4, 4, 2]);
    assert.deepEqual(r1.map((b) => b.indices.length), [4, 4, 4, 4, 3]);
    single.forEach((b, k) => {
      assert.deepEqual([...r0[k]!.indices, ...r1[k]!.indices], b.indices, `global batch ${k}`);
      assert.deepEqual([...r0[k]!.x, ...r1[k]!.x], b.x, `pixels of global batch ${k}`);
    });
  }
});

test("a 'batch' shard drops a last global batch with fewer samples than ranks (no rank gets an empty batch)", async () => {
  // 25 = 3·8 + 1 over 2 ranks: 3 batches, the single sample left out on both ranks.
  const r0 = await batches({ batchSize: 8, shard: { rank: 0, world: 2 } }, 25, 0);
  const r1 = await batches({ batchSize: 8, shard: { rank: 1, world: 2 } }, 25, 0);
  assert.deepEqual(r0.map((b) => b.indices), [[0, 1, 2, 3], [8, 9, 10, 11], [16, 17, 18, 19]]);
  assert.deepEqual(r1.map((b) => b.indices), [[4, 5, 6, 7], [12, 13, 14, 15], [20, 21, 22, 23]]);
  assert.throws(() => new DataLoader(syntheticDataset(4), { batchSize: 2, shard: { rank: 0, world: 3 } }), /at least one sample per rank/);
  assert.throws(() => new DataLoader(syntheticDataset(4), { batchSize: 2, shard: { rank: 2, world: 2 } }), /shard\.rank/);
});

test("'split' shards cover the split once, in contiguous shares, each in its own batches", async () => {
  const parts = await Promise.all([0, 1, 2].map((rank) => batches({ batchSize: 4, shard: { rank, world: 3, of: 'split' } }, 11, 0)));
  // 11 over 3 ranks: [0, 3), [3, 7), [7, 11).
  assert.deepEqual(parts.map((p) => p.map((b) => b.indices)), [[[0, 1, 2]], [[3, 4, 5, 6]], [[7, 8, 9, 10]]]);
});
