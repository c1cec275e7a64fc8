// Data-parallel training across processes on a c10d process group, as
// PyTorch's DistributedDataParallel does it: every rank holds the whole
// model, rank 0's parameters and buffers are broadcast once at the start,
// each rank runs forward and backward on its own part of the global batch,
// and the gradients are combined with bucketed allreduce before the
// (identical) optimizer step, so the ranks' weights never drift apart.
//
// Gradients are weighted by each rank's sample count (sum of n_r·grad_r,
// divided by the summed count): with equal parts that is DDP's average, and
// a smaller last batch still gets the exact mean over the global batch, so
// N ranks with batch B/N take the very steps one process with batch B takes.
//
// The allreduce runs after the whole backward, not overlapped with it:
// overlap needs per-parameter gradient hooks called from libtorch's autograd
// engine into the addon, which this addon does not have. What it costs is
// measured by `npm run bench -- ddp` (the time in allreduce per step).
//
// BatchNorm keeps per-rank batch statistics (DDP's default, not
// SyncBatchNorm): each rank normalises with its own part of the batch.
// Running statistics are rank 0's: they are broadcast before every
// evaluation, so every rank evaluates (and rank 0 saves) the same model.
import { F, keep, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { ProcessGroup, type ProcessGroupOptions, type Rendezvous } from '../tensor/distributed.js';
import type { Model } from '../graph/index.js';
import { metricsFromCounts, type Metrics } from './metrics.js';
import type { TrainerCollective } from './trainer.js';
import { UsageError } from '../util/errors.js';

/** DDP's default bucket size (bucket_cap_mb = 25). */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

export interface DataParallelOptions {
  /** Gradients are flattened into buckets of about this many bytes, one allreduce each. */
  bucketBytes?: number;
}

/** Where time went in the collectives (for the benchmark's report). */
export interface CollectiveTimes {
  steps: number;
  /** Seconds in gradient allreduce (flatten, reduce, copy back). */
  allReduceSeconds: number;
  buckets: number;
}

const BYTES: Record<string, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

/** Groups tensors into buckets of one dtype and at most `cap` bytes (a tensor larger than `cap` is a bucket of its own). */
export function bucketize(tensors: readonly Tensor[], cap: number): Tensor[][] {
  const out: Tensor[][] = [];
  const open = new Map<string, { items: Tensor[]; bytes: number }>();
  for (const t of tensors) {
    const bytes = t.numel * (BYTES[t.dtype] ?? 4);
    let b = open.get(t.dtype);
    if (b && b.items.length && b.bytes + bytes > cap) {
      out.push(b.items);
      b = undefined;
    }
    if (!b) open.set(t.dtype, (b = { items: [], bytes: 0 }));
    b.items.push(t);
    b.bytes += bytes;
  }
  for (const b of open.values()) if (b.items.length) out.push(b.items);
  return out;
}

/** The data-parallel side of one process: its group, and what the trainer calls around each step. */
export class DataParallel implements TrainerCollective {
  readonly bucketBytes: number;
  /** Set once any rank asked to stop (a signal, a callback): every rank stops at the same step. */
  stopRequested = false;
  readonly times: CollectiveTimes = { steps: 0, allReduceSeconds: 0, buckets: 0 };

  constructor(
    readonly group: ProcessGroup,
    o: DataParallelOptions = {},
  ) {
    this.bucketBytes = o.bucketBytes ?? DEFAULT_BUCKET_BYTES;
    if (!(Number.isInteger(this.bucketBytes) && this.bucketBytes >= 1)) throw new UsageError(`bucketBytes must be a positive integer, got ${o.bucketBytes}`);
  }

  /** Joins the group the rendezvous describes (torchrun's variables: envRendezvous()). */
  static async join(rv: Rendezvous, o: DataParallelOptions & Pick<ProcessGroupOptions, 'timeoutMs' | 'initTimeoutMs'> = {}): Promise<DataParallel> {
    const group = await ProcessGroup.init({ ...rv, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.initTimeoutMs !== undefined ? { initTimeoutMs: o.initTimeoutMs } : {}) });
    return new DataParallel(group, o);
  }

  get rank(): number {
    return this.group.rank;
  }
  get size(): number {
    return this.group.size;
  }

  /** Overwrites `tensors` on every rank with rank 0's values (parameters, buffers, optimizer state). */
  async broadcast(tensors: readonly Tensor[]): Promise<void> {
    for (const bucket of bucketize(tensors, this.bucketBytes)) {
      const flat = noGrad(() => tidy(() => keep(F.cat(bucket.map((t) => t.detach().reshape([-1]))))));
      try {
        await this.group.broadcast(flat, 0);
        copyBack(flat, bucket);
      } finally {
        flat.dispose();
      }
    }
  }

  /** Rank 0's parameters and buffers on every rank (at the start of training, after a resume). */
  async broadcastModel(model: Model, extra: readonly Tensor[] = []): Promise<void> {
    await this.broadcast([...model.namedTensors().map(([, t]) => t), ...extra]);
  }

  /**
   * The gradients of `params` become the mean over the global batch: each
   * rank's gradient weighted by its `batchSize`. The stop flags ride along;
   * returns whether any rank asked to stop.
   */
  async afterBackward(params: readonly Tensor[], batchSize: number, stop: boolean): Promise<boolean> {
    const t0 = performance.now();
    const grads = noGrad(() => params.map((p) => p.grad).filter((g): g is Tensor => g !== null));
    try {
      // The first bucket carries [batchSize, stop] in front of the gradients.
      const buckets = bucketize(grads, this.bucketBytes);
      if (!buckets.length || buckets[0]![0]!.dtype !== 'float32') buckets.unshift([]);
      let total = 0;
      let anyStop = false;
      for (let i = 0; i < buckets.length; i++) {
        const bucket = buckets[i]!;
        const head = i === 0;
        const flat = noGrad(() =>
          tidy(() => {
            const parts = bucket.map((g) => g.reshape([-1]).mul(batchSize));
            if (head) parts.unshift(tensor(new Float32Array([batchSize, stop ? 1 : 0]), [2]));
            return keep(F.cat(parts));
          }),
        );
        try {
          await this.group.allReduce([flat], 'sum');
          if (head) {
            const [n, s] = noGrad(() => tidy(() => flat.narrow(0, 0, 2).toArray()));
            total = n!;
            anyStop = s! > 0;
          }
          noGrad(() => tidy(() => flat.div_(total)));
          copyBack(flat, bucket, head ? 2 : 0);
        } finally {
          flat.dispose();
        }
      }
      this.times.buckets += buckets.length;
      if (anyStop) this.stopRequested = true;
      return anyStop;
    } finally {
      for (const g of grads) g.dispose();
      this.times.steps += 1;
      this.times.allReduceSeconds += (performance.now() - t0) / 1000;
    }
  }

  /** True on every rank when any rank passes true (agreeing to stop between epochs). */
  async any(flag: boolean): Promise<boolean> {
    const t = tensor(new Float32Array([flag ? 1 : 0]), [1]);
    try {
      await this.group.allReduce([t], 'sum');
      const any = t.toArray()[0]! > 0;
      if (any) this.stopRequested = true;
      return any;
    } finally {
      t.dispose();
    }
  }

  /**
   * An evaluation over the whole split: rank 0's buffers first (BatchNorm's
   * running statistics), then every rank evaluates its shard (`run`) and the
   * counts are summed.
   */
  async evaluate(model: Model, run: () => Promise<Metrics>): Promise<Metrics> {
    const buffers = new Set(model.namedParameters().map(([k]) => k));
    await this.broadcast(model.namedTensors().filter(([k]) => !buffers.has(k)).map(([, t]) => t));
    return this.reduceMetrics(await run());
  }

  /** Metrics over every rank's samples: confusion counts, loss and top-k hits summed, then the ratios. */
  async reduceMetrics(m: Metrics): Promise<Metrics> {
    const c = m.confusion.length;
    const lossSum = Number.isNaN(m.loss) ? 0 : m.loss * m.count;
    const topk = Number.isNaN(m.top5) ? 0 : Math.round(m.top5 * m.count);
    const t = tensor(Float64Array.from([m.count, lossSum, Number.isNaN(m.loss) ? 0 : m.count, topk, ...m.confusion.flat()]), [4 + c * c]);
    let v: number[];
    try {
      await this.group.allReduce([t], 'sum');
      v = t.toArray();
    } finally {
      t.dispose();
    }
    return metricsFromCounts(v[0]!, v[1]!, v[2]!, v[3]!, v.slice(4), c, m.classes);
  }

  dispose(): void {
    this.group.dispose();
  }
}

/** Copies a flat buffer, from `offset` on, back into the tensors it was made of (a gradient's handle writes its storage). */
function copyBack(flat: Tensor, into: readonly Tensor[], offset = 0): void {
  noGrad(() =>
    tidy(() => {
      let at = offset;
      for (const t of into) {
        const n = t.numel;
        t.copy_(flat.narrow(0, at, n).reshape(t.shape));
        at += n;
      }
    }),
  );
}

