// Checks an exported ONNX model against slimnet: the same random batch goes
// through onnxruntime (CPU) and through the model's eval-mode forward, and
// every graph output is compared element by element.
//
// A NaN or an infinity on either side is a failure, never a match: a model
// with NaN weights gives NaN in both runtimes, and "difference 0" would call
// that export verified. Such outputs get an infinite maxAbsDiff (so any
// tolerance check fails) and a line in `problems` naming the output, the
// side and the count.
import * as ort from 'onnxruntime-node';
import type { Model } from '../../graph/model.js';
import { manualSeed, noGrad, randn, type Tensor } from '../../tensor/index.js';
import { SlimnetError } from '../../util/errors.js';

export interface VerifyOptions {
  /** Batch size of the random input (default 2). */
  batch?: number;
  /** Seed of the random input (default 0). */
  seed?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
}

export interface VerifiedOutput {
  name: string;
  /** Shape onnxruntime produced (batch first). */
  shape: number[];
  maxAbsDiff: number;
  /** onnxruntime's values. */
  onnx: Float32Array;
  /** slimnet's values. */
  slimnet: Float32Array;
  /** How many values are NaN or infinite on each side (a failure whenever either is above 0). */
  nonFinite: { onnx: number; slimnet: number };
}

export interface VerifyResult {
  /**
   * Largest |onnx − slimnet| over all outputs. Infinity on a shape mismatch
   * and whenever either side has a NaN or an infinite value (even where both
   * agree), so `maxAbsDiff <= tolerance` is false for such an export.
   */
  maxAbsDiff: number;
  outputs: VerifiedOutput[];
  /** What went wrong, one line per problem naming the output (empty when the outputs compare). */
  problems: string[];
}

/** Count of NaN / ±Infinity values and the index of the first. */
function nonFiniteOf(a: Float32Array): { count: number; first: number; nan: number } {
  let count = 0;
  let first = -1;
  let nan = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) {
      if (count === 0) first = i;
      count++;
      if (Number.isNaN(a[i]!)) nan++;
    }
  }
  return { count, first, nan };
}

/** Runs `bytes` (an export of `model`) in onnxruntime and slimnet on one random batch and compares. */
export async function verifyOnnx(model: Model, bytes: Uint8Array, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const batch = opts.batch ?? 2;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`verifyOnnx: batch must be a positive integer, got ${batch}`);
  const graph = model.graph;
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
  });
  const inputs: Tensor[] = [];
  const problems: string[] = [];
  const expected: { name: string; shape: number[]; data: Float32Array }[] = [];
  try {
    manualSeed(opts.seed ?? 0);
    for (const n of graph.inputs) inputs.push(randn([batch, ...graph.shape(n.name)]));
    noGrad(() => {
      const outs = model.forwardAll(inputs, { training: false });
      try {
        outs.forEach((t, i) => expected.push({ name: graph.outputs[i]!, shape: t.shape, data: t.data<'float32'>() }));
      } finally {
        for (const t of outs) t.dispose();
      }
    });
    const feeds: Record<string, ort.Tensor> = {};
    graph.inputs.forEach((n, i) => {
      const t = inputs[i]!;
      feeds[n.name] = new ort.Tensor('float32', t.data<'float32'>(), t.shape);
    });
    const results = await session.run(feeds);
    const outputs: VerifiedOutput[] = expected.map((e) => {
      const r = results[e.name];
      if (!r) throw new SlimnetError(`ONNX verification: onnxruntime produced no output '${e.name}' (it has ${Object.keys(results).join(', ')})`);
      const got = r.data as Float32Array;
      const shape = [...r.dims];
      const bad = { onnx: nonFiniteOf(got), slimnet: nonFiniteOf(e.data) };
      for (const side of ['slimnet', 'onnx'] as const) {
        const b = bad[side];
        if (b.count > 0) {
          const what = b.nan === b.count ? 'NaN' : b.nan === 0 ? 'infinite' : 'NaN or infinite';
          problems.push(`output '${e.name}': ${side === 'onnx' ? 'onnxruntime' : 'slimnet'} gives ${b.count} ${what} value${b.count === 1 ? '' : 's'} of ${side === 'onnx' ? got.length : e.data.length} (first at index ${b.first}; NaN or infinite weights, or an overflow)`);
        }
      }
      let maxAbsDiff = 0;
      if (shape.length !== e.shape.length || shape.some((d, i) => d !== e.shape[i])) {
        maxAbsDiff = Infinity;
        problems.push(`output '${e.name}': onnxruntime's shape [${shape.join(', ')}] differs from slimnet's [${e.shape.join(', ')}]`);
      } else if (bad.onnx.count > 0 || bad.slimnet.count > 0) {
        maxAbsDiff = Infinity;
      } else {
        for (let i = 0; i < got.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - e.data[i]!));
      }
      return { name: e.name, shape, maxAbsDiff, onnx: got, slimnet: e.data, nonFinite: { onnx: bad.onnx.count, slimnet: bad.slimnet.count } };
    });
    return { maxAbsDiff: outputs.reduce((m, o) => Math.max(m, o.maxAbsDiff), 0), outputs, problems };
  } finally {
    for (const t of inputs) t.dispose();
    await session.release();
  }
}
