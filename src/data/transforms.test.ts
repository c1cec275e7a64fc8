import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../util/rng.js';
import {
  colorJitter, compose, gaussianNoise, horizontalFlip, isNoisy, normalize, NORMALIZE_PRESETS, randomCrop, randomResizedCrop, resize, rotation,
  transformFromSpec, type Image, type TransformContext,
} from './transforms.js';

const ctx = (seed = 1, index = 0): TransformContext => ({ rand: mulberry32(seed), index, epoch: 0 });
const randomImage = (shape: [number, number, number], seed = 9): Image => {
  const r = mulberry32(seed);
  return { data: Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => r()), shape };
};

test('horizontalFlip: mirrors rows; flipping twice is the identity; p = 0 never flips', () => {
  const img = randomImage([3, 5, 7]);
  const f = horizontalFlip(1);
  const once = f.apply(img, ctx());
  assert.equal(once.data[0], img.data[6]);
  assert.equal(once.data[2 * 35 + 4 * 7 + 1], img.data[2 * 35 + 4 * 7 + 5]);
  assert.notDeepEqual(once.data, img.data);
  assert.deepEqual(f.apply(once, ctx()).data, img.data);
  assert.deepEqual(horizontalFlip(0).apply(img, ctx()).data, img.data);
});

test('normalize matches a hand computation, per channel and with presets', () => {
  const img: Image = { data: Float32Array.of(0, 0.5, 1, 0.25, 0.2, 0.4, 0.6, 0.8), shape: [2, 2, 2] };
  const out = normalize([0.5, 0.1], [0.25, 0.5]).apply(img, ctx()).data;
  const hand = [(0 - 0.5) / 0.25, (0.5 - 0.5) / 0.25, (1 - 0.5) / 0.25, (0.25 - 0.5) / 0.25, (0.2 - 0.1) / 0.5, (0.4 - 0.1) / 0.5, (0.6 - 0.1) / 0.5, (0.8 - 0.1) / 0.5];
  hand.forEach((v, i) => assert.ok(Math.abs(out[i]! - v) < 1e-6, `${i}: ${out[i]} vs ${v}`));
  const p = normalize('cifar10').apply(randomImage([3, 2, 2]), ctx());
  assert.equal(p.shape[0], 3);
  assert.deepEqual(normalize('imagenet').spec, { kind: 'normalize', mean: [...NORMALIZE_PRESETS.imagenet.mean], std: [...NORMALIZE_PRESETS.imagenet.std] });
  assert.throws(() => normalize([0.5, 0.5], [0.2, 0.2]).apply(randomImage([3, 2, 2]), ctx()), RangeError);
});

test('randomCrop with padding 0 and full size is the identity; with padding it shifts and zero-fills', () => {
  const img = randomImage([2, 6, 5]);
  for (let s = 0; s < 5; s++) assert.deepEqual(randomCrop([6, 5], 0).apply(img, ctx(s)).data, img.data);
  let shifted = 0;
  for (let s = 0; s < 20; s++) {
    const out = randomCrop([6, 5], 2).apply(img, ctx(s));
    assert.deepEqual(out.shape, [2, 6, 5]);
    if (out.data.some((v, i) => v !== img.data[i])) shifted++;
  }
  assert.ok(shifted > 10);
  const small = randomCrop(3, 0).apply(img, ctx(3));
  assert.deepEqual(small.shape, [2, 3, 3]);
});

test('rotation: 0 degrees is the identity; 90 degrees on a square image moves pixels exactly', () => {
  const img = randomImage([1, 5, 5]);
  assert.deepEqual(rotation(0).apply(img, ctx()).data, img.data);
  // An angle drawn from [-90, 90]: for a draw of +-90 the result is an exact quarter turn.
  const r90 = rotation(90);
  const fixed: TransformContext = { rand: () => 1 - 1e-12, index: 0, epoch: 0 }; // angle ~ +90 deg
  const out = r90.apply(img, fixed).data;
  // Centre pixel stays; out(i, j) = in(j', i') for a quarter turn: check against either direction.
  assert.ok(Math.abs(out[12]! - img.data[12]!) < 1e-5);
  const cw = Array.from({ length: 25 }, (_, k) => img.data[(4 - (k % 5)) * 5 + Math.floor(k / 5)]!);
  const ccw = Array.from({ length: 25 }, (_, k) => img.data[(k % 5) * 5 + 4 - Math.floor(k / 5)]!);
  const close = (a: ArrayLike<number>) => Array.from(out).every((v, k) => Math.abs(v - a[k]!) < 1e-4);
  assert.ok(close(cw) || close(ccw), 'a 90-degree rotation permutes the pixels');
});

test('resize: same size is the identity; bilinear on a ramp; randomResizedCrop output size', () => {
  const img = randomImage([3, 4, 6]);
  assert.deepEqual(resize([4, 6]).apply(img, ctx()).data, img.data);
  const ramp: Image = { data: Float32Array.of(0, 1, 2, 3), shape: [1, 1, 4] };
  // 4 -> 2 with half-pixel centres: samples at x = 0.5 and 2.5.
  assert.deepEqual([...resize([1, 2]).apply(ramp, ctx()).data], [0.5, 2.5]);
  const up = resize([1, 8]).apply(ramp, ctx()).data; // x = -0.25 (clamped to 0), 0.25, 0.75, ...
  assert.deepEqual([...up], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]);
  for (let s = 0; s < 10; s++) assert.deepEqual(randomResizedCrop(5, [0.3, 1]).apply(img, ctx(s)).shape, [3, 5, 5]);
});

test('colorJitter keeps values in [0, 1] and zero strengths are the identity', () => {
  const img = randomImage([3, 4, 4]);
  assert.deepEqual(colorJitter(0, 0, 0).apply(img, ctx()).data, img.data);
  const j = colorJitter(0.5, 0.5, 0.5).apply(img, ctx(4)).data;
  assert.ok(j.every((v) => v >= 0 && v <= 1));
  assert.notDeepEqual(j, img.data);
});

test('gaussianNoise hits the chosen fraction of images (fixed per index), each with noise of the asked std', () => {
  const n = 2000;
  for (const f of [0, 0.1, 0.25, 0.5, 1]) {
    let noisy = 0;
    const t = gaussianNoise(0.1, f, 1);
    for (let i = 0; i < n; i++) {
      const img: Image = { data: new Float32Array(64).fill(0.5), shape: [1, 8, 8] };
      const out = t.apply(img, ctx(i + 100, i));
      const changed = out.data.some((v) => v !== 0.5);
      assert.equal(changed, isNoisy(i, f, 1));
      if (changed) noisy++;
    }
    assert.ok(Math.abs(noisy - f * n) <= 3, `fraction ${f}: ${noisy} of ${n} noisy`);
  }
  // Noise std ~ 0.1 (values around 0.5, clamping irrelevant).
  const out = gaussianNoise(0.1, 1).apply({ data: new Float32Array(20000).fill(0.5), shape: [1, 100, 200] }, ctx(7)).data;
  const mean = out.reduce((a, v) => a + v, 0) / out.length;
  const sd = Math.sqrt(out.reduce((a, v) => a + (v - mean) ** 2, 0) / out.length);
  assert.ok(Math.abs(mean - 0.5) < 0.005 && Math.abs(sd - 0.1) < 0.005, `mean ${mean} sd ${sd}`);
  // A different seed picks a different set.
  const pick = (seed: number) => Array.from({ length: 200 }, (_, i) => isNoisy(i, 0.3, seed));
  assert.notDeepEqual(pick(1), pick(2));
});

test('transforms rebuilt from their specs behave identically', () => {
  const t = compose(randomCrop(6, 2), horizontalFlip(), rotation(15), colorJitter(0.2, 0.2, 0.2), gaussianNoise(0.05, 0.5), normalize('cifar10'));
  const img = randomImage([3, 6, 6]);
  const u = transformFromSpec(t.spec!);
  for (let s = 0; s < 5; s++) assert.deepEqual(u.apply(img, ctx(s, s)).data, t.apply(img, ctx(s, s)).data);
});
