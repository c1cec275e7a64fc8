// Helpers for the training tests (and for anyone who needs a BatchSource
// without src/data): an in-memory source with a seeded per-epoch shuffle,
// small graph models, and a linearly separable synthetic problem.
import { keep, manualSeed, noGrad, randint, randn, tensor, type Tensor } from '../tensor/index.js';
import { GraphBuilder, Model } from '../graph/index.js';
import type { Batch, BatchSource } from './trainer.js';
import { mulberry32 } from '../util/rng.js';

/** Batches from arrays held in memory; shuffled per epoch from (seed, epoch) when a seed is given. */
export class ArraySource implements BatchSource {
  readonly n: number;
  /** Epoch indices requested so far (what the trainer asked for). */
  readonly requested: number[] = [];

  constructor(
    readonly x: Float32Array,
    readonly y: ArrayLike<number>,
    readonly sampleShape: readonly number[],
    readonly batchSize: number,
    readonly shuffleSeed?: number,
  ) {
    this.n = y.length;
    const per = sampleShape.reduce((a, b) => a * b, 1);
    if (x.length !== this.n * per) throw new RangeError(`ArraySource: ${x.length} values for ${this.n} samples of ${per}`);
  }

  get length(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  async *epoch(epochIndex: number): AsyncGenerator<Batch> {
    this.requested.push(epochIndex);
    const order = Int32Array.from({ length: this.n }, (_, i) => i);
    if (this.shuffleSeed !== undefined) {
      const rand = mulberry32(this.shuffleSeed * 7919 + epochIndex);
      for (let i = this.n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    const per = this.sampleShape.reduce((a, b) => a * b, 1);
    for (let s = 0; s < this.n; s += this.batchSize) {
      const idx = order.subarray(s, Math.min(this.n, s + this.batchSize));
      const xs = new Float32Array(idx.length * per);
      const ys = new BigInt64Array(idx.length);
      idx.forEach((k, i) => {
        xs.set(this.x.subarray(k * per, (k + 1) * per), i * per);
        ys[i] = BigInt(this.y[k]!);
      });
      await Promise.resolve();
      // Untracked by scopes (like a loader's batches): the consumer disposes them.
      yield { x: keep(tensor(xs, [idx.length, ...this.sampleShape])), y: keep(tensor(ys, [idx.length])), indices: Int32Array.from(idx) };
    }
  }
}

/**
 * `classes` Gaussian blobs in `dims` dimensions, centres on a circle of
 * radius `separation` (well separated for separation >> 1).
 */
export function blobs(n: number, o: { dims?: number; classes?: number; separation?: number; seed?: number } = {}): { x: Float32Array; y: Int32Array; dims: number; classes: number } {
  const dims = o.dims ?? 2;
  const classes = o.classes ?? 3;
  const sep = o.separation ?? 4;
  const rand = mulberry32(o.seed ?? 1);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const x = new Float32Array(n * dims);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    const angle = (2 * Math.PI * c) / classes;
    for (let d = 0; d < dims; d++) {
      const centre = d === 0 ? sep * Math.cos(angle) : d === 1 ? sep * Math.sin(angle) : 0;
      x[i * dims + d] = centre + gauss();
    }
  }
  return { x, y, dims, classes };
}

/** input [inFeatures] -> linear hidden -> (batchnorm1d) -> relu -> (dropout) -> linear classes. */
export function mlp(inFeatures: number, hidden: number, classes: number, o: { batchNorm?: boolean; dropout?: number; seed?: number } = {}): Model {
  const b = new GraphBuilder('mlp');
  let h = b.input([inFeatures]);
  h = b.linear(h, hidden, { name: 'fc1' });
  if (o.batchNorm) h = b.batchnorm1d(h, { name: 'bn1' });
  h = b.relu(h, { name: 'relu1' });
  if (o.dropout) h = b.node('dropout', [h], { p: o.dropout }, 'drop1');
  h = b.linear(h, classes, { name: 'fc2' });
  return Model.create(b.build(h), { seed: o.seed ?? 0 });
}

/** A tiny CNN: conv 3x3 -> batchnorm2d -> relu -> global average pool -> linear. */
export function tinyCnn(inChannels: number, size: number, classes: number, seed = 0): Model {
  const b = new GraphBuilder('tinycnn');
  let h = b.input([inChannels, size, size]);
  h = b.relu(b.batchnorm2d(b.conv2d(h, 4, 3, { padding: 1, name: 'conv1' }), { name: 'bn1' }), { name: 'relu1' });
  h = b.globalAvgPool(h, { name: 'gap' });
  h = b.linear(h, classes, { name: 'fc' });
  return Model.create(b.build(h), { seed });
}

/**
 * `n` batches of `batch` standard-normal 1x6x6 images (seeded), label = whether
 * the image's mean is positive: learnable, and every epoch yields the same
 * batches (fresh copies: the consumer disposes them).
 */
export function signSource(n: number, batch: number, seed: number): BatchSource {
  manualSeed(seed);
  const xs: Tensor[] = [];
  const ys: Tensor[] = [];
  for (let i = 0; i < n; i++) {
    const x = randn([batch, 1, 6, 6]);
    xs.push(x);
    ys.push(noGrad(() => x.mean([1, 2, 3]).gt(0).to('int64')));
  }
  return {
    length: n,
    epoch: async function* () {
      for (let i = 0; i < n; i++) yield { x: xs[i]!.clone(), y: ys[i]!.clone(), indices: new Int32Array(batch) } satisfies Batch;
    },
  };
}

/** `n` fixed batches of standard-normal images [batch, ...shape] with random labels below `classes`, seeded; every epoch yields copies of the same batches. */
export function randomSource(n: number, batch: number, shape: readonly number[], classes: number, seed: number): BatchSource {
  manualSeed(seed);
  const xs = Array.from({ length: n }, () => randn([batch, ...shape]));
  const ys = Array.from({ length: n }, () => randint(0, classes, [batch]));
  return {
    length: n,
    epoch: async function* () {
      for (let i = 0; i < n; i++) yield { x: xs[i]!.clone(), y: ys[i]!.clone(), indices: new Int32Array(batch) } satisfies Batch;
    },
  };
}
