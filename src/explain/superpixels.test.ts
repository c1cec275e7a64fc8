import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultMethod, defaultSegments, gridSegments, segmentImage, slicSegments, type Segmentation } from './superpixels.js';
import { loadMnistDigits } from '../data/mnist-digits.js';
import { mulberry32 } from '../util/rng.js';

/** Every pixel has a label in 0..count-1 and every label is used. */
function assertCovers(s: Segmentation): void {
  assert.equal(s.labels.length, s.h * s.w);
  const used = new Set<number>();
  for (const l of s.labels) {
    assert.ok(Number.isInteger(l) && l >= 0 && l < s.count, `label ${l} outside 0..${s.count - 1}`);
    used.add(l);
  }
  assert.equal(used.size, s.count, 'every segment has pixels');
}

/** Number of 4-connected components of each label. */
function components(s: Segmentation): number[] {
  const seen = new Uint8Array(s.labels.length);
  const per = new Array<number>(s.count).fill(0);
  for (let p = 0; p < s.labels.length; p++) {
    if (seen[p]) continue;
    const l = s.labels[p]!;
    per[l]!++;
    const stack = [p];
    seen[p] = 1;
    while (stack.length) {
      const q = stack.pop()!;
      const y = Math.floor(q / s.w);
      const x = q % s.w;
      for (const [yy, xx] of [[y - 1, x], [y + 1, x], [y, x - 1], [y, x + 1]] as const) {
        if (yy < 0 || xx < 0 || yy >= s.h || xx >= s.w) continue;
        const r = yy * s.w + xx;
        if (!seen[r] && s.labels[r] === l) {
          seen[r] = 1;
          stack.push(r);
        }
      }
    }
  }
  return per;
}

/** A 32x32 colour image: a red disc on a blue-green background, with a little seeded noise. */
function colourImage(): Float32Array {
  const rand = mulberry32(3);
  const img = new Float32Array(3 * 32 * 32);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const inside = (y - 15) ** 2 + (x - 17) ** 2 < 81;
      const rgb = inside ? [0.9, 0.1, 0.1] : [0.1, 0.5, 0.7];
      for (let c = 0; c < 3; c++) img[c * 1024 + y * 32 + x] = rgb[c]! + 0.05 * (rand() - 0.5);
    }
  }
  return img;
}

test('defaults: about one segment per 4x4 pixels, the grid below 16 px', () => {
  assert.equal(defaultSegments(28, 28), 49);
  assert.equal(defaultSegments(32, 32), 64);
  assert.equal(defaultSegments(224, 224), 100);
  assert.equal(defaultSegments(4, 4), 4);
  assert.equal(defaultMethod(28, 28), 'slic');
  assert.equal(defaultMethod(8, 8), 'grid');
});

test('grid: equal cells covering every pixel, rows x cols close to the request', () => {
  const g = gridSegments(8, 8, 16);
  assertCovers(g);
  assert.equal(g.count, 16);
  assert.deepEqual(Array.from(g.labels.subarray(0, 8)), [0, 0, 1, 1, 2, 2, 3, 3]);
  const r = gridSegments(10, 20, 8); // wider than tall: 2 rows x 4 columns
  assertCovers(r);
  assert.equal(r.count, 8);
  assert.equal(components(r).every((c) => c === 1), true);
});

test('SLIC on 28x28 digits: covers every pixel, connected segments, the requested count within 30 %, deterministic', () => {
  const d = loadMnistDigits();
  for (const idx of [0, 1500, 9000]) {
    const img = d.images.slice(idx * 784, (idx + 1) * 784);
    const s = segmentImage(img, [1, 28, 28]);
    assertCovers(s);
    assert.ok(Math.abs(s.count - 49) <= 0.3 * 49, `digit ${idx}: ${s.count} segments for 49 requested`);
    assert.ok(components(s).every((c) => c === 1), 'each segment is one 4-connected blob');
    assert.deepEqual(segmentImage(img, [1, 28, 28]).labels, s.labels, 'same image, same segments');
    // Normalisation does not matter: colours are rescaled per image.
    const normalised = img.map((v) => (v - 0.1307) / 0.3081);
    assert.deepEqual(segmentImage(normalised, [1, 28, 28]).labels, s.labels);
    for (const k of [16, 100]) {
      const t = segmentImage(img, [1, 28, 28], { segments: k });
      assertCovers(t);
      assert.ok(Math.abs(t.count - k) <= 0.3 * k, `${t.count} segments for ${k} requested`);
    }
  }
});

test('SLIC on a 32x32 colour image follows the object edge; the grid does not', () => {
  const img = colourImage();
  const s = slicSegments(img, [3, 32, 32], 64);
  assertCovers(s);
  assert.ok(Math.abs(s.count - 64) <= 0.3 * 64, `${s.count} segments`);
  assert.ok(components(s).every((c) => c === 1));
  const mixed = (seg: Segmentation): number => {
    const inside = new Map<number, Set<boolean>>();
    for (let p = 0; p < 1024; p++) {
      const l = seg.labels[p]!;
      if (!inside.has(l)) inside.set(l, new Set());
      inside.get(l)!.add(img[p]! > 0.5); // the red channel separates disc and background
    }
    return [...inside.values()].filter((v) => v.size > 1).length;
  };
  assert.equal(mixed(s), 0, 'no SLIC segment straddles the disc edge');
  assert.ok(mixed(gridSegments(32, 32, 64)) > 5, 'grid cells do');
  // A large compactness tends to the grid.
  const square = slicSegments(img, [3, 32, 32], 64, 1000);
  assert.deepEqual(square.labels, gridSegments(32, 32, 64).labels);
});

test('a constant image gives the grid, and tiny images use the grid by default', () => {
  const flat = new Float32Array(3 * 16 * 16).fill(0.4);
  assert.deepEqual(slicSegments(flat, [3, 16, 16], 16).labels, gridSegments(16, 16, 16).labels);
  const tiny = segmentImage(new Float32Array(8 * 8), [1, 8, 8]);
  assert.deepEqual(tiny.labels, gridSegments(8, 8, 4).labels);
});
