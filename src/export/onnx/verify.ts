// Checks an exported ONNX model against slimnet: the same random batch goes
// through onnxruntime (CPU) and through the model's eval-mode forward, and
// every graph output is compared element by element.
import * as ort from 'onnxruntime-node';
import type { Model } from '../../graph/model.js';
import { manualSeed, noGrad, randn, type Tensor } from '../../tensor/index.js';

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
}

export interface VerifyResult {
  /** Largest |onnx − slimnet| over all outputs (Infinity on a shape mismatch, NaN-safe). */
  maxAbsDiff: number;
  outputs: VerifiedOutput[];
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
      if (!r) throw new Error(`verifyOnnx: onnxruntime produced no output '${e.name}' (it has ${Object.keys(results).join(', ')})`);
      const got = r.data as Float32Array;
      const shape = [...r.dims];
      let maxAbsDiff = 0;
      if (shape.length !== e.shape.length || shape.some((d, i) => d !== e.shape[i])) {
        maxAbsDiff = Infinity;
      } else {
        for (let i = 0; i < got.length; i++) {
          const d = Math.abs(got[i]! - e.data[i]!);
          // NaN compares false: count any NaN disagreement as an infinite difference.
          if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? (Number.isNaN(got[i]!) && Number.isNaN(e.data[i]!) ? maxAbsDiff : Infinity) : d;
        }
      }
      return { name: e.name, shape, maxAbsDiff, onnx: got, slimnet: e.data };
    });
    return { maxAbsDiff: outputs.reduce((m, o) => Math.max(m, o.maxAbsDiff), 0), outputs };
  } finally {
    for (const t of inputs) t.dispose();
    await session.release();
  }
}
