import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from './dataset.js';
import { subset } from './dataset.js';
import { DataLoader, type DataLoaderOptions } from './loader.js';
import { syntheticDataset } from './testing.js';
import { compose, custom, horizontalFlip, normalize, randomCrop, rotation } from './transforms.js';

interface Plain {
  x: Float32Array;
  y: BigInt64Array;
  indices: Int32Array;
  shape: number[];
}

async function collect(ds: Dataset, o: DataLoaderOptions, epoch: number): Promise<Plain[]> {
  const loader = new DataLoader(ds, o);
  const out: Plain[] = [];
  try {
    for await (const b of loader.epoch(epoch)) {
      assert.equal(b.x.dtype, 'float32');
      assert.equal(b.y.dtype, 'int64');
      out.push({ x: b.x.data() as Float32Array, y: b.y.data() as BigInt64Array, indices: b.indices, shape: b.x.shape });
      b.x.dispose();
      b.y.dispose();
    }
  } finally {
    await loader.close();
  }
  return out;
}

const order = (bs: Plain[]): number[] => bs.flatMap((b) => [...b.indices]);

test('batches: shapes, dtypes, contents and labels match the data set; every sample once per epoch', async () => {
  const ds = syntheticDataset(23, [2, 3, 3], 4);
  for (const prefetch of [0, 2]) {
    const bs = await collect(ds, { batchSize: 5, shuffle: true, seed: 1, prefetch }, 0);
    assert.equal(bs.length, 5);
    assert.deepEqual(bs.map((b) => b.shape), [[5, 2, 3, 3], [5, 2, 3, 3], [5, 2, 3, 3], [5, 2, 3, 3], [3, 2, 3, 3]]);
    assert.deepEqual([...order(bs)].sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
    assert.notDeepEqual(order(bs), Array.from({ length: 23 }, (_, i) => i), 'shuffled');
    for (const b of bs) {
      b.indices.forEach((idx, k) => {
        const s = ds.get(idx);
        assert.deepEqual(b.x.subarray(k * 18, (k + 1) * 18), s.image);
        assert.equal(b.y[k], BigInt(s.label));
      });
    }
  }
  const unshuffled = await collect(ds, { batchSize: 10 }, 0);
  assert.deepEqual(order(unshuffled), Array.from({ length: 23 }, (_, i) => i));
});

test('order is seeded per (seed, epoch): same again, different for another epoch or seed', async () => {
  const ds = syntheticDataset(50);
  const o = { batchSize: 8, shuffle: true, seed: 11, prefetch: 0 };
  const e3 = order(await collect(ds, o, 3));
  assert.deepEqual(order(await collect(ds, o, 3)), e3);
  assert.deepEqual(new DataLoader(ds, o).order(3), Int32Array.from(e3));
  assert.notDeepEqual(order(await collect(ds, o, 4)), e3);
  assert.notDeepEqual(order(await collect(ds, { ...o, seed: 12 }, 3)), e3);
});

test('dropLast drops the short final batch; length counts batches', async () => {
  const ds = syntheticDataset(23);
  assert.equal(new DataLoader(ds, { batchSize: 5 }).length, 5);
  assert.equal(new DataLoader(ds, { batchSize: 5, dropLast: true }).length, 4);
  const bs = await collect(ds, { batchSize: 5, dropLast: true, shuffle: true, seed: 2 }, 0);
  assert.equal(bs.length, 4);
  assert.ok(bs.every((b) => b.indices.length === 5));
  assert.equal(new Set(order(bs)).size, 20);
  assert.equal(new DataLoader(syntheticDataset(20), { batchSize: 5, dropLast: true }).length, 4);
});

test('prefetch (worker thread, or main thread for custom transforms) yields batches identical to no prefetch', async () => {
  const ds = subset(syntheticDataset(40, [3, 8, 8], 5), Array.from({ length: 37 }, (_, i) => 39 - i));
  const transform = compose(randomCrop(8, 2), horizontalFlip(), rotation(20), normalize('cifar10'));
  const base = { batchSize: 6, shuffle: true, seed: 4, transform };
  const loaderModes = [new DataLoader(ds, { ...base, prefetch: 0 }).mode, new DataLoader(ds, base).mode];
  assert.deepEqual(loaderModes, ['sync', 'worker']);
  const ref = await collect(ds, { ...base, prefetch: 0 }, 2);
  const viaWorker = await collect(ds, { ...base, prefetch: 3 }, 2);
  const tagged = compose(transform, custom('id', (img) => img));
  assert.equal(new DataLoader(ds, { ...base, transform: tagged }).mode, 'main');
  const viaMain = await collect(ds, { ...base, transform: tagged, prefetch: 2 }, 2);
  for (const other of [viaWorker, viaMain]) {
    assert.equal(other.length, ref.length);
    other.forEach((b, k) => {
      assert.deepEqual(b.indices, ref[k]!.indices);
      assert.deepEqual(b.x, ref[k]!.x);
      assert.deepEqual(b.y, ref[k]!.y);
    });
  }
  // Augmentation really happened (differs from the raw samples) and differs between epochs.
  assert.notDeepEqual(ref[0]!.x.subarray(0, 192), ds.get(ref[0]!.indices[0]!).image);
  const e3 = await collect(ds, { ...base, shuffle: false, prefetch: 0 }, 3);
  const e4 = await collect(ds, { ...base, shuffle: false, prefetch: 0 }, 4);
  assert.notDeepEqual(e3[0]!.x, e4[0]!.x);
});

test('breaking out of an epoch early and starting another works (worker mode)', async () => {
  const ds = syntheticDataset(100);
  const loader = new DataLoader(ds, { batchSize: 10, shuffle: true, seed: 1, prefetch: 4 });
  let n = 0;
  for await (const b of loader.epoch(0)) {
    b.x.dispose();
    b.y.dispose();
    if (++n === 2) break;
  }
  const seen: number[] = [];
  for await (const b of loader.epoch(1)) {
    seen.push(...b.indices);
    b.x.dispose();
    b.y.dispose();
  }
  assert.deepEqual(seen, [...loader.order(1)]);
  await loader.close();
});
