// DataLoader: seeded, reproducible batches of (x float32 [B,C,H,W], y int64 [B]).
//
// Order: epoch e visits permutation(length, hashSeed(seed, e)) (or 0..n-1
// without shuffle), so a run resumed at epoch e sees the same order; each
// sample's augmentation draws from its own stream hashSeed(seed, e, index),
// so batches do not depend on where or in which order they were built.
//
// Prefetch: with prefetch > 0 (default 2) and a portable data set and
// transform (every built-in one is), batches are assembled and augmented in a
// worker thread (loader-worker.ts) that rebuilds the data set from its spec --
// in-memory pixels live in SharedArrayBuffers, so nothing is copied -- and
// sends the batch arrays back as transferables, up to `prefetch` batches
// ahead. A worker is used (not a main-thread async prefetch) because a
// training step is synchronous libtorch work on the main thread: a
// main-thread "prefetch" cannot run during it, only a thread can overlap.
// Measured on this 2-core machine (loaded by a background benchmark), time to
// build one batch on the main thread, and per-step time of a loop whose
// "training step" is a 100 ms synchronous busy wait, prefetch 0 vs worker:
//   Fashion-MNIST b100, no transform            1.1 ms   101.5 vs 101.8 ms
//   Fashion-MNIST b100, crop(28,2)+flip+norm    2.8 ms   101.6 vs 104.1 ms
//     ... + rotation(10)                         3.4 ms   103.0 vs 105.2 ms
//   CIFAR-sized b128, crop(32,4)+flip+norm      4.8 ms   104.6 vs 105.4 ms
//   64px b32, randomResizedCrop(224)+flip+norm  58 ms    150.8 vs 131.3 ms
// So for the small data sets assembly is ~1 % of a LeNet step (~400 ms at
// batch 100) and the worker neither helps nor hurts measurably (its ~1-2 ms
// is the transfer and the contention for 2 cores); for heavy augmentation it
// hides most of the cost. The worker is the default; `worker: false` or
// `prefetch: 0` keep everything on the main thread.
// Without a portable spec (a custom() transform or a user data set) the
// loader prepares batches on the main thread, asynchronously (image folders
// decode on libvips' threads meanwhile).
import { Worker } from 'node:worker_threads';
import { tensor, type Tensor } from '../tensor/index.js';
import { assembleBatch, type BatchArrays } from './assemble.js';
import { datasetSpec, type Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { hashSeed, permutation } from '../util/rng.js';
import type { ImageShape, Transform } from './transforms.js';

export interface Batch {
  /** float32 [B, C, H, W]. */
  x: Tensor;
  /** int64 [B]. */
  y: Tensor;
  /** The data-set indices of the batch's samples. */
  indices: Int32Array;
}

export interface DataLoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  seed?: number;
  transform?: Transform;
  dropLast?: boolean;
  /** Batches prepared ahead of the one being consumed; 0 builds each on demand. Default 2. */
  prefetch?: number;
  /** Use a worker thread for prefetching when possible (default true). */
  worker?: boolean;
  /** This process's part of the data in data-parallel training (see LoaderShard). */
  shard?: LoaderShard;
}

/**
 * Data-parallel sharding, over the order one process would use (the same
 * seeded shuffle). `of: 'batch'` (training): `batchSize` is the global batch,
 * and rank r of `world` takes positions ⌊r·m/world⌋ … ⌊(r+1)·m/world⌋ of
 * every global batch of m samples, so N ranks see together exactly the
 * batches one process sees (a last batch with fewer samples than ranks is
 * dropped, so that no rank gets an empty one). `of: 'split'` (evaluation):
 * rank r takes the contiguous share ⌊r·n/world⌋ … ⌊(r+1)·n/world⌋ of the
 * whole order, in batches of `batchSize`.
 */
export interface LoaderShard {
  rank: number;
  world: number;
  of?: 'batch' | 'split';
}

// The entry has this module's own extension: loader-worker.ts under tsx,
// loader-worker.js in the build (dist/).
const WORKER_ENTRY = new URL(`./loader-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

// Node 20 workers do not inherit tsx's hooks (see src/tensor/worker.ts): start
// the .ts entry through a bootstrap that registers tsx first.
function workerScript(): { script: string | URL; isEval: boolean } {
  const entry = WORKER_ENTRY;
  if (!entry.pathname.endsWith('.ts')) return { script: entry, isEval: false };
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return { script: `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, isEval: true };
}

type Reply = { id: number; x: Float32Array; y: BigInt64Array } | { id: number; error: { name: string; message: string; file?: string; stack?: string } };

class BatchWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (b: BatchArrays) => void; reject: (e: Error) => void }>();
  private next = 0;
  private dead: Error | undefined;
  // The worker stays unref'd (an idle loader must not keep the process
  // alive); while a batch is owed, a timer does. (Toggling worker.ref() /
  // unref() from its own message handler proved unreliable: the process
  // sometimes exited with a batch still pending.)
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private settle(): void {
    if (this.pending.size === 0 && this.keepAlive !== undefined) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }
  constructor(workerData: unknown) {
    const { script, isEval } = workerScript();
    this.worker = new Worker(script, { eval: isEval, workerData });
    this.worker.unref();
    this.worker.on('message', (m: Reply | { ready: true }) => {
      if (!('id' in m)) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.settle();
      if ('error' in m) {
        let err: Error;
        if (m.error.file !== undefined) err = new DataError(m.error.file, m.error.message.replace(`${m.error.file}: `, ''));
        else {
          err = new Error(m.error.message);
          err.name = m.error.name;
        }
        if (m.error.stack) err.stack = m.error.stack;
        p.reject(err);
      } else p.resolve({ x: m.x, y: m.y });
    });
    const fail = (e: Error): void => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.settle();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`data loader worker exited with code ${code}`)));
  }
  request(indices: Int32Array, epoch: number, seed: number): Promise<BatchArrays> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.keepAlive ??= setInterval(() => {}, 1 << 30);
      this.worker.postMessage({ id, indices, epoch, seed });
    });
  }
  async close(): Promise<void> {
    this.dead ??= new Error('data loader was closed');
    await this.worker.terminate();
  }
}

/** Rank r's share [lo, hi) of n items split into `world` contiguous parts. */
function splitBounds(n: number, rank: number, world: number): [number, number] {
  return [Math.floor((rank * n) / world), Math.floor(((rank + 1) * n) / world)];
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly transform: Transform | undefined;
  readonly shard: Required<LoaderShard> | undefined;
  /** [C, H, W] of the batches' samples (after the transform). */
  readonly sampleShape: ImageShape;
  /** Where batches are built: 'worker' (a producer thread), 'main' (async on this thread) or 'sync' (prefetch 0). */
  readonly mode: 'worker' | 'main' | 'sync';
  private worker: BatchWorker | undefined;
  private readonly workerData: unknown;

  constructor(
    readonly dataset: Dataset,
    o: DataLoaderOptions,
  ) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? false;
    this.seed = o.seed ?? 0;
    this.dropLast = o.dropLast ?? false;
    this.prefetch = o.prefetch ?? 2;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) throw new RangeError(`DataLoader: prefetch must be an integer >= 0, got ${o.prefetch}`);
    this.transform = o.transform;
    if (o.shard) {
      const { rank, world } = o.shard;
      const of = o.shard.of ?? 'batch';
      if (!(Number.isInteger(world) && world >= 1)) throw new RangeError(`DataLoader: shard.world must be a positive integer, got ${world}`);
      if (!(Number.isInteger(rank) && rank >= 0 && rank < world)) throw new RangeError(`DataLoader: shard.rank must be an integer in [0, ${world - 1}], got ${rank}`);
      if (of !== 'batch' && of !== 'split') throw new RangeError(`DataLoader: shard.of must be 'batch' or 'split', got '${String(of)}'`);
      if (of === 'batch' && this.batchSize < world) throw new RangeError(`DataLoader: the global batch (${this.batchSize}) must have at least one sample per rank (${world} ranks)`);
      this.shard = { rank, world, of };
    }
    const s = o.transform ? o.transform.outputShape([...dataset.sampleShape]) : dataset.sampleShape;
    this.sampleShape = [s[0], s[1], s[2]];
    const spec = this.prefetch > 0 && (o.worker ?? true) ? datasetSpec(dataset) : undefined;
    const portable = spec !== undefined && (o.transform === undefined || o.transform.spec !== undefined);
    this.mode = this.prefetch === 0 ? 'sync' : portable ? 'worker' : 'main';
    this.workerData = portable ? { dataset: spec, transform: o.transform?.spec, outShape: this.sampleShape } : undefined;
  }

  /** Batches per epoch (the same on every rank of a 'batch' shard). */
  get length(): number {
    const sh = this.shard;
    const n = sh?.of === 'split' ? splitBounds(this.dataset.length, sh.rank, sh.world)[1] - splitBounds(this.dataset.length, sh.rank, sh.world)[0] : this.dataset.length;
    const tail = n % this.batchSize;
    return this.dropLast || (sh?.of === 'batch' && tail > 0 && tail < sh.world) ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The data-set indices epoch `epochIndex` visits, in order (one process's: a 'split' shard's share of it). */
  order(epochIndex: number): Int32Array {
    const n = this.dataset.length;
    const all = this.shuffle ? permutation(n, hashSeed(this.seed, epochIndex)) : Int32Array.from({ length: n }, (_, i) => i);
    if (this.shard?.of !== 'split') return all;
    const [lo, hi] = splitBounds(n, this.shard.rank, this.shard.world);
    return all.slice(lo, hi);
  }

  /** The data-set indices of batch `k` of an epoch's order (a 'batch' shard's part of it). */
  private batchIndices(order: Int32Array, k: number): Int32Array {
    const whole = order.slice(k * this.batchSize, Math.min((k + 1) * this.batchSize, order.length));
    if (this.shard?.of !== 'batch') return whole;
    const [lo, hi] = splitBounds(whole.length, this.shard.rank, this.shard.world);
    return whole.slice(lo, hi);
  }

  private build(indices: Int32Array, epochIndex: number): Promise<BatchArrays> {
    if (this.mode === 'worker') {
      this.worker ??= new BatchWorker(this.workerData);
      return this.worker.request(indices, epochIndex, this.seed);
    }
    return assembleBatch(this.dataset, this.transform, this.sampleShape, indices, epochIndex, this.seed);
  }

  /** The batches of epoch `epochIndex`; the caller disposes each batch's tensors (or runs in tidy). */
  async *epoch(epochIndex: number): AsyncIterableIterator<Batch> {
    const order = this.order(epochIndex);
    const count = this.length;
    const slice = (k: number): Int32Array => this.batchIndices(order, k);
    const queue: Promise<BatchArrays>[] = [];
    let requested = 0;
    const fill = (upTo: number): void => {
      while (requested < Math.min(upTo, count)) {
        const p = this.build(slice(requested++), epochIndex);
        p.catch(() => {}); // surfaced when awaited; avoid unhandled rejections of abandoned batches
        queue.push(p);
      }
    };
    for (let k = 0; k < count; k++) {
      fill(k + 1 + this.prefetch);
      // Batches k+1..k+prefetch are now being built while batch k is consumed.
      const { x, y } = await queue.shift()!;
      const indices = slice(k);
      const [c, h, w] = this.sampleShape;
      yield { x: tensor(x, [indices.length, c, h, w]), y: tensor(y, [indices.length]), indices };
    }
  }

  /** Stops the worker thread (if any); the loader cannot be used afterwards in worker mode. */
  async close(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
