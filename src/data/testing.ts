// Helpers for the data tests: temporary folders and small synthetic data sets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrayDataset, sharedFloat32 } from './dataset.js';

export function tempDir(t: { after(fn: () => void): void }, prefix = 'slimnet-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * n samples of shape `shape`; sample i's pixels are (i * 7919 + p) mod 1000 / 1000,
 * so pixel 0 identifies the sample; labels from `label(i)` (default i mod classes).
 */
export function syntheticDataset(n: number, shape: [number, number, number] = [1, 4, 4], classes = 3, label: (i: number) => number = (i) => i % classes): ArrayDataset {
  const size = shape[0] * shape[1] * shape[2];
  const images = sharedFloat32(n * size);
  for (let i = 0; i < n; i++) for (let p = 0; p < size; p++) images[i * size + p] = ((i * 7919 + p) % 1000) / 1000;
  const labels = Int32Array.from({ length: n }, (_, i) => label(i));
  return new ArrayDataset(`synthetic-${n}`, images, labels, shape, Array.from({ length: classes }, (_, c) => `c${c}`));
}

/** Which synthetic sample an image (or batch row) is: inverts pixel 0 = (i * 7919) mod 1000. */
export function sampleIdOf(pixel0: number, n: number): number {
  const v = Math.round(pixel0 * 1000);
  for (let i = 0; i < n; i++) if ((i * 7919) % 1000 === v) return i;
  return -1;
}
