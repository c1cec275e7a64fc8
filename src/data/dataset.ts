// The data-set interface the trainer consumes, plus the in-memory array data
// set that the IDX, CIFAR and bundled-MNIST loaders produce, and the
// index-based views (subset, seeded/stratified split, fraction).
import { DataError } from './errors.js';
import { permutation } from '../util/rng.js';
import { UsageError } from '../util/errors.js';

export { DataError } from './errors.js';

export interface Sample {
  /** CHW, values in [0, 1] before normalisation. */
  image: Float32Array;
  label: number;
}

export interface Dataset {
  /** e.g. 'fashion-mnist/train'. */
  readonly name: string;
  readonly length: number;
  /** [C, H, W]. */
  readonly sampleShape: readonly [number, number, number];
  readonly classes: readonly string[];
  get(index: number): Sample;
  /** All labels, for stratified splits and balanced accuracy. */
  labels(): Int32Array;
  /** Things a command should tell the user about the data (e.g. a test split without some classes); absent or empty when none. */
  readonly warnings?: readonly string[];
}

// ---------------------------------------------------------------------------
// Internal protocol (not part of the public interface; the loader uses it).

/** A data set that can be rebuilt in a worker thread from a structured-cloneable spec. */
export const PORTABLE: unique symbol = Symbol.for('slimnet.data.portable') as never;
/** A data set whose samples are best fetched asynchronously (e.g. decoded off-thread by sharp). */
export const GET_ASYNC: unique symbol = Symbol.for('slimnet.data.getAsync') as never;

export type DatasetSpec =
  | { kind: 'array'; name: string; images: Uint8Array | Float32Array; labels: Int32Array; shape: [number, number, number]; classes: string[] }
  | { kind: 'subset'; name: string; base: DatasetSpec; indices: Int32Array }
  | { kind: 'folder'; name: string; files: string[]; labels: Int32Array; classes: string[]; size: [number, number]; channels: 1 | 3; cacheSize: number };

export interface PortableDataset extends Dataset {
  [PORTABLE](): DatasetSpec | undefined;
}
export interface AsyncDataset extends Dataset {
  [GET_ASYNC](index: number): Promise<Sample>;
}

export function datasetSpec(ds: Dataset): DatasetSpec | undefined {
  const f = (ds as Partial<PortableDataset>)[PORTABLE];
  return typeof f === 'function' ? f.call(ds) : undefined;
}

/** get() or, when the data set has one, its asynchronous twin. */
export function getSampleAsync(ds: Dataset, index: number): Promise<Sample> {
  const f = (ds as Partial<AsyncDataset>)[GET_ASYNC];
  return typeof f === 'function' ? f.call(ds, index) : Promise.resolve().then(() => ds.get(index));
}

export function checkIndex(ds: { name: string; length: number }, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= ds.length) {
    throw new RangeError(`${ds.name}: sample index ${index} out of range [0, ${ds.length})`);
  }
}

/** A SharedArrayBuffer-backed typed array, so worker threads see the same memory without a copy. */
export function sharedUint8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
export function sharedFloat32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}

/**
 * Samples held in memory: uint8 pixels (divided by 255 on read) or float32
 * values already in [0, 1], [N, C, H, W] row-major.
 */
export class ArrayDataset implements PortableDataset {
  readonly sampleShape: readonly [number, number, number];
  readonly length: number;
  readonly classes: readonly string[];
  private readonly size: number;
  constructor(
    readonly name: string,
    private readonly images: Uint8Array | Float32Array,
    private readonly labelArray: Int32Array,
    shape: readonly [number, number, number],
    classes: readonly string[],
  ) {
    this.sampleShape = [shape[0], shape[1], shape[2]];
    this.size = shape[0] * shape[1] * shape[2];
    this.length = labelArray.length;
    this.classes = [...classes];
    if (images.length !== this.length * this.size) {
      throw new RangeError(`${name}: ${images.length} pixel values for ${this.length} samples of [${shape.join(', ')}]`);
    }
  }
  get(index: number): Sample {
    checkIndex(this, index);
    const src = this.images.subarray(index * this.size, (index + 1) * this.size);
    const image = new Float32Array(this.size);
    if (src instanceof Uint8Array) for (let i = 0; i < this.size; i++) image[i] = src[i]! / 255;
    else image.set(src);
    return { image, label: this.labelArray[index]! };
  }
  labels(): Int32Array {
    return this.labelArray.slice();
  }
  [PORTABLE](): DatasetSpec {
    return { kind: 'array', name: this.name, images: this.images, labels: this.labelArray, shape: [...this.sampleShape], classes: [...this.classes] };
  }
}

class SubsetDataset implements PortableDataset {
  readonly length: number;
  constructor(
    readonly name: string,
    private readonly base: Dataset,
    private readonly indices: Int32Array,
  ) {
    this.length = indices.length;
    for (const i of indices) checkIndex(base, i);
    // Asynchronous only when the base is (so in-memory subsets stay on the fast synchronous path).
    if (typeof (base as Partial<AsyncDataset>)[GET_ASYNC] === 'function') {
      (this as unknown as AsyncDataset)[GET_ASYNC] = (index: number) => {
        checkIndex(this, index);
        return getSampleAsync(this.base, this.indices[index]!);
      };
    }
  }
  get sampleShape(): readonly [number, number, number] {
    return this.base.sampleShape;
  }
  get classes(): readonly string[] {
    return this.base.classes;
  }
  get(index: number): Sample {
    checkIndex(this, index);
    return this.base.get(this.indices[index]!);
  }
  labels(): Int32Array {
    const all = this.base.labels();
    return this.indices.map((i) => all[i]!);
  }
  [PORTABLE](): DatasetSpec | undefined {
    const base = datasetSpec(this.base);
    return base && { kind: 'subset', name: this.name, base, indices: this.indices };
  }
}

/** The samples of `ds` at `indices` (in that order), as a data set. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name?: string): Dataset {
  return new SubsetDataset(name ?? `${ds.name}[subset ${indices.length}]`, ds, Int32Array.from(indices));
}

/**
 * Seeded choice of `count` of the indices 0..n-1; stratified keeps each
 * class's share (largest-remainder rounding, so the total is exact).
 * Returns [chosen, rest], each sorted ascending.
 */
function choose(labels: Int32Array, count: number, seed: number, stratified: boolean): [Int32Array, Int32Array] {
  const n = labels.length;
  const picked = new Uint8Array(n);
  if (!stratified) {
    const p = permutation(n, seed);
    for (let i = 0; i < count; i++) picked[p[i]!] = 1;
  } else {
    const byClass = new Map<number, number[]>();
    labels.forEach((l, i) => {
      let a = byClass.get(l);
      if (!a) byClass.set(l, (a = []));
      a.push(i);
    });
    const cls = [...byClass.keys()].sort((a, b) => a - b);
    const quota = cls.map((c) => (byClass.get(c)!.length * count) / n);
    const take = quota.map(Math.floor);
    let left = count - take.reduce((a, b) => a + b, 0);
    // Hand the remaining samples to the largest remainders (ties: lower class first).
    const order = cls.map((_, k) => k).sort((a, b) => quota[b]! - take[b]! - (quota[a]! - take[a]!) || a - b);
    for (const k of order) {
      if (left === 0) break;
      take[k]!++;
      left--;
    }
    cls.forEach((c, k) => {
      const members = byClass.get(c)!;
      const p = permutation(members.length, seed + 7919 * (c + 1));
      for (let i = 0; i < take[k]!; i++) picked[members[p[i]!]!] = 1;
    });
  }
  const chosen = new Int32Array(count);
  const rest = new Int32Array(n - count);
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    if (picked[i]) chosen[a++] = i;
    else rest[b++] = i;
  }
  return [chosen, rest];
}

/** A count from a count (>= 1) or a fraction (< 1) of `n`; `what` names the option in errors. */
function countOf(n: number, v: number, what: string, ds: string): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new UsageError(`${what} must be a number of samples or a fraction in [0, 1), got ${v}`);
  const count = v < 1 ? Math.round(v * n) : v;
  if (!Number.isInteger(count)) throw new UsageError(`${what} must be a whole number of samples or a fraction in [0, 1), got ${v}`);
  if (count > n) throw new UsageError(`${what} ${v} asks for more samples than ${ds} has (${n}): give fewer, or a fraction such as 0.1`);
  return count;
}

/**
 * Seeded train/validation split. `validation` is a count (>= 1) or a fraction
 * (< 1). Stratified (each class keeps its share) unless `stratified: false`.
 */
export function splitDataset(ds: Dataset, opts: { validation: number; seed: number; stratified?: boolean }): { train: Dataset; validation: Dataset } {
  const count = countOf(ds.length, opts.validation, 'validation', ds.name);
  const [val, train] = choose(ds.labels(), count, opts.seed, opts.stratified ?? true);
  return { train: subset(ds, train, `${ds.name}[train ${train.length}]`), validation: subset(ds, val, `${ds.name}[validation ${val.length}]`) };
}

/** A stratified, seeded fraction 0 < f <= 1 of `ds` (for quick runs). */
export function fraction(ds: Dataset, f: number, seed: number): Dataset {
  if (!(f > 0 && f <= 1)) throw new UsageError(`fraction must be in (0, 1], got ${f}`);
  if (f === 1) return ds;
  const count = Math.max(1, Math.round(f * ds.length));
  const [chosen] = choose(ds.labels(), count, seed, true);
  return subset(ds, chosen, `${ds.name}[${f}]`);
}

/** Throws a DataError when `labels` holds a value outside [0, classes). */
export function checkLabels(file: string, labels: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0 || l >= classes) throw new DataError(file, `label ${l} of sample ${i} is outside the ${classes} classes`);
  }
}
