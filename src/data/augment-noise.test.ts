// Gaussian noise on a share of the training images (seed 001): the share of
// noised images stays within binomial bounds, the noise on them has mean 0
// and the asked std, clean images come back bit for bit, and the loader's
// seed fixes which images get which noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addNoise, noiseShare, withNoise, type NoiseSpec } from './augment.js';
import { sampleRng } from './assemble.js';
import { DataLoader } from './loader.js';
import { normalize, type Image } from './transforms.js';
import { syntheticDataset } from './testing.js';

const image = (i: number, size: number): Image => ({ data: Float32Array.from({ length: size }, (_, p) => ((i * 31 + p * 17) % 100) / 50 - 1), shape: [1, 1, size] });

/** Noises images 0..n-1 as the loader would in `epoch`; the noised ones' differences, and the count. */
function draw(n: number, size: number, spec: NoiseSpec, seed = 7, epoch = 0): { noised: number; diffs: number[]; cleanSame: boolean } {
  let noised = 0;
  let cleanSame = true;
  const diffs: number[] = [];
  for (let i = 0; i < n; i++) {
    const img = image(i, size);
    const before = Float32Array.from(img.data);
    const out = addNoise(img, { rand: sampleRng(seed, epoch, i), index: i, epoch }, spec);
    if (out.data.some((v, p) => v !== before[p])) {
      noised++;
      out.data.forEach((v, p) => diffs.push(v - before[p]!));
    } else cleanSame &&= out === img && Buffer.compare(Buffer.from(out.data.buffer), Buffer.from(before.buffer)) === 0;
  }
  return { noised, diffs, cleanSame };
}

test('the noised share of the images is binomial(n, share): within 5 standard deviations', () => {
  const n = 4000;
  for (const share of [0.5, 0.2, 1, 0]) {
    const { noised, cleanSame } = draw(n, 2, { share, std: 0.1 });
    const sd = Math.sqrt(n * share * (1 - share));
    assert.ok(Math.abs(noised - n * share) <= 5 * sd, `share ${share}: ${noised} of ${n} noised, expected ${n * share} ± ${5 * sd}`);
    assert.ok(cleanSame, `share ${share}: the clean images are returned unchanged`);
  }
});

test('the noise on the noised images has mean 0 and the asked std; the clean ones are bit-identical', () => {
  for (const std of [0.1, 1.5]) {
    const { diffs, cleanSame, noised } = draw(600, 51, { share: 0.5, std }); // odd size: the last value of a Box-Muller pair alone
    const m = diffs.length;
    assert.equal(m, noised * 51);
    const mean = diffs.reduce((a, b) => a + b, 0) / m;
    const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / (m - 1));
    // mean: 5 standard errors; std: the sample std's standard error is about std / sqrt(2m).
    assert.ok(Math.abs(mean) < (5 * std) / Math.sqrt(m), `std ${std}: mean ${mean} over ${m} values`);
    assert.ok(Math.abs(sd - std) < (5 * std) / Math.sqrt(2 * m), `std ${std}: measured ${sd}`);
    // Gaussian, not just any distribution with that std: about 68.3 % within one std.
    const within = diffs.filter((d) => Math.abs(d) < std).length / m;
    assert.ok(Math.abs(within - 0.6827) < 0.02, `std ${std}: ${within} within 1 std`);
    assert.ok(cleanSame);
  }
});

test('a loader with the same seed draws the same noise; another seed or epoch other noise; normalisation runs first', async () => {
  const ds = syntheticDataset(64, [1, 4, 4]);
  const spec: NoiseSpec = { share: 0.5, std: 0.3 };
  const t = withNoise(normalize([0.5], [0.25]), spec);
  assert.deepEqual(t.outputShape([1, 4, 4]), [1, 4, 4]);
  const batches = async (seed: number, epoch: number, worker = true): Promise<Float32Array[]> => {
    const l = new DataLoader(ds, { batchSize: 16, shuffle: true, seed, transform: t, worker });
    const out: Float32Array[] = [];
    for await (const b of l.epoch(epoch)) {
      out.push((b.x.data() as Float32Array));
      b.x.dispose();
      b.y.dispose();
    }
    await l.close();
    return out;
  };
  const a = await batches(3, 0);
  assert.deepEqual(await batches(3, 0, false), a, 'same seed and epoch: the same pixels (also without prefetch)');
  assert.notDeepEqual(await batches(4, 0), a, 'another seed');
  assert.notDeepEqual(await batches(3, 1), a, 'another epoch');
  // Per sample: the loader's image is normalize(x) itself (clean) or normalize(x) plus noise, never noise before normalisation.
  const clean = normalize([0.5], [0.25]);
  const l = new DataLoader(ds, { batchSize: 64, seed: 3, transform: t, prefetch: 0 });
  let noised = 0;
  for await (const b of l.epoch(0)) {
    const x = (b.x.data() as Float32Array);
    for (let k = 0; k < 64; k++) {
      const ref = clean.apply({ data: ds.get(k).image, shape: [1, 4, 4] }, { rand: sampleRng(3, 0, k), index: k, epoch: 0 }).data;
      const row = x.subarray(k * 16, (k + 1) * 16);
      const want = addNoise({ data: ref, shape: [1, 4, 4] }, { rand: sampleRng(3, 0, k), index: k, epoch: 0 }, spec).data;
      assert.deepEqual(row, want, `sample ${k}`);
      if (want !== ref) noised++;
    }
    b.x.dispose();
    b.y.dispose();
  }
  assert.ok(noised > 16 && noised < 48, `${noised} of 64 noised`);
});

test('bad settings are refused; share 0 or none leaves the transform as it was', () => {
  const n = normalize([0.5], [0.25]);
  assert.equal(withNoise(n, null), n);
  assert.equal(withNoise(n, { share: 0, std: 1 }), n);
  assert.throws(() => noiseShare({ share: 1.5, std: 0.1 }), /share must be in \[0, 1\], got 1.5/);
  assert.throws(() => noiseShare({ share: 0.5, std: 0 }), /std must be a number > 0, got 0/);
});
