// Measured inference latency: what a pruned network really gains, reported
// next to its MAC ratio. Two back-ends are timed:
//
//   - onnxruntime (CPU), on the model's ONNX export: what a deployment sees;
//   - slimnet's own engine (libtorch), eval mode under noGrad.
//
// Each timed call is bracketed by process.hrtime.bigint(); statistics are
// robust (median, p10 / p90) because a shared machine produces outliers.
// compareLatency() measures two models interleaved so that load drift hits
// both equally (see there).
import { mulberry32 } from '../util/rng.js';
import * as ort from 'onnxruntime-node';
import type { Model } from '../graph/model.js';
import { exportOnnx } from '../export/onnx/export.js';
import { SlimnetError } from '../util/errors.js';
import { getNumThreads, getRngState, noGrad, randn, setRngState, type Tensor } from '../tensor/index.js';

/** A latency measurement failed or was asked for with invalid options; the message names the problem. */
export class LatencyError extends SlimnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LatencyError';
  }
}

export interface LatencyStats {
  /** Batch size of every timed call. */
  batch: number;
  /** Timed calls the statistics are computed over. */
  runs: number;
  /** Untimed calls made before the timed ones. */
  warmup: number;
  median_ms: number;
  p10_ms: number;
  p90_ms: number;
  mean_ms: number;
  min_ms: number;
  /** median_ms / batch. */
  per_sample_ms: number;
  /** Intra-op threads of the back-end. */
  threads: number;
  /** compareLatency only: the median of each interleaved round. */
  round_medians_ms?: number[];
}

/** Options shared by every measurement loop. */
export interface LoopOptions {
  /** Batch size (positive integer). */
  batch: number;
  /** Timed calls, at least (default 50). */
  runs?: number;
  /** Untimed calls first (default 5). */
  warmup?: number;
  /** Keep timing until both `runs` calls and `minTimeMs` of wall time are reached (default 0)... */
  minTimeMs?: number;
  /** ...but never more than `maxRuns` timed calls (default max(runs, 10000)). */
  maxRuns?: number;
}

export interface OrtLatencyOptions extends LoopOptions {
  /** onnxruntime intra-op threads (default: slimnet's engine thread count). */
  threads?: number;
}

export type EngineLatencyOptions = LoopOptions;

export interface SpeedupReport {
  before: LatencyStats;
  after: LatencyStats;
  /** before.median_ms / after.median_ms (> 1: `after` is faster). */
  speedup: number;
}

export interface CompareLatencyOptions {
  /** Batch sizes to measure (default [1, 64]). */
  batches?: number[];
  /** Timed calls per model and batch, split over the rounds (default 50). */
  runs?: number;
  /** Untimed calls per model and batch before the first round (default 5). */
  warmup?: number;
  /** Interleaved rounds (default 5; fewer if runs < rounds). */
  rounds?: number;
  /** onnxruntime intra-op threads (default: slimnet's engine thread count). */
  threads?: number;
  /** Also time slimnet's engine (default true). */
  engine?: boolean;
}

export interface CompareLatencyResult {
  ort: Record<number, SpeedupReport>;
  engine?: Record<number, SpeedupReport>;
}

// ---- options -----------------------------------------------------------------

interface Loop {
  batch: number;
  runs: number;
  warmup: number;
  minTimeMs: number;
  maxRuns: number;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new LatencyError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function loopOptions(o: LoopOptions): Loop {
  if (o === null || typeof o !== 'object') throw new LatencyError('options with a batch size are required');
  const batch = positiveInt('batch', o.batch);
  const runs = positiveInt('runs', o.runs ?? 50);
  const warmup = o.warmup ?? 5;
  if (!Number.isInteger(warmup) || warmup < 0) throw new LatencyError(`warmup must be a non-negative integer, got ${warmup}`);
  const minTimeMs = o.minTimeMs ?? 0;
  if (!Number.isFinite(minTimeMs) || minTimeMs < 0) throw new LatencyError(`minTimeMs must be a finite number >= 0, got ${minTimeMs}`);
  const maxRuns = positiveInt('maxRuns', o.maxRuns ?? Math.max(runs, 10_000));
  if (maxRuns < runs) throw new LatencyError(`maxRuns (${maxRuns}) is below runs (${runs})`);
  return { batch, runs, warmup, minTimeMs, maxRuns };
}

function threadCount(threads: number | undefined): number {
  return positiveInt('threads', threads ?? getNumThreads());
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---- statistics --------------------------------------------------------------

/** The q-quantile of ascending `sorted` with linear interpolation (NumPy's default). */
function quantile(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function median(samples: readonly number[]): number {
  return quantile([...samples].sort((a, b) => a - b), 0.5);
}

function statsOf(samples: readonly number[], batch: number, warmup: number, threads: number): LatencyStats {
  const s = [...samples].sort((a, b) => a - b);
  const med = quantile(s, 0.5);
  return {
    batch,
    runs: s.length,
    warmup,
    median_ms: med,
    p10_ms: quantile(s, 0.1),
    p90_ms: quantile(s, 0.9),
    mean_ms: s.reduce((a, b) => a + b, 0) / s.length,
    min_ms: s[0]!,
    per_sample_ms: med / batch,
    threads,
  };
}

const nowNs = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Timed calls of `once` (ms each): at least `runs`, more until `minTimeMs` has passed, at most `maxRuns`. */
async function timeAsync(once: () => Promise<void>, runs: number, minTimeMs: number, maxRuns: number): Promise<number[]> {
  const samples: number[] = [];
  const start = nowNs();
  while (samples.length < maxRuns && (samples.length < runs || msSince(start) < minTimeMs)) {
    const t0 = nowNs();
    await once();
    samples.push(msSince(t0));
  }
  return samples;
}

function timeSync(once: () => void, runs: number, minTimeMs: number, maxRuns: number): number[] {
  const samples: number[] = [];
  const start = nowNs();
  while (samples.length < maxRuns && (samples.length < runs || msSince(start) < minTimeMs)) {
    const t0 = nowNs();
    once();
    samples.push(msSince(t0));
  }
  return samples;
}

// ---- input shapes ------------------------------------------------------------

/** The per-sample input shape of a single-input model (batch dimension excluded). */
export function modelInputShape(model: Model): number[] {
  if (model.isDisposed) throw new LatencyError(`model '${model.graph.name}' was disposed`);
  const inputs = model.graph.inputs;
  if (inputs.length !== 1) {
    throw new LatencyError(
      `latency is measured on single-input models; graph '${model.graph.name}' has ${inputs.length} inputs` +
        (inputs.length ? ` (${inputs.map((n) => n.name).join(', ')})` : ''),
    );
  }
  return [...model.graph.shape(inputs[0]!.name)];
}

function checkInputShape(shape: readonly number[]): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new LatencyError(`inputShape must be a list of positive integers (per sample, without the batch), got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}

// ---- onnxruntime ---------------------------------------------------------------

/** Standard-normal float32 values (Box-Muller), like randn. */
function randomNormal(n: number, seed = 0): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rnd()));
    const th = 2 * Math.PI * rnd();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

/** One onnxruntime session on CPU, timed on random batches. */
class OrtRunner {
  private readonly feeds = new Map<number, Record<string, ort.Tensor>>();

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly inputShape: readonly number[],
    readonly threads: number,
    private readonly label: string,
  ) {}

  static async create(onnx: Uint8Array, inputShape: readonly number[], threads: number, label = 'model'): Promise<OrtRunner> {
    if (!(onnx instanceof Uint8Array)) throw new LatencyError(`the ONNX ${label} must be a Uint8Array of protobuf bytes`);
    if (onnx.length === 0) throw new LatencyError(`the ONNX ${label} is empty (0 bytes)`);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(onnx, {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
      });
    } catch (e) {
      throw new LatencyError(`onnxruntime cannot load the ONNX ${label} (${onnx.length} bytes): ${messageOf(e)}`, { cause: e });
    }
    if (session.inputNames.length !== 1) {
      const names = session.inputNames.join(', ');
      await session.release();
      throw new LatencyError(`latency is measured on single-input models; the ONNX ${label} has ${session.inputNames.length} inputs (${names})`);
    }
    return new OrtRunner(session, session.inputNames[0]!, inputShape, threads, label);
  }

  private feedsFor(batch: number): Record<string, ort.Tensor> {
    let f = this.feeds.get(batch);
    if (!f) {
      const dims = [batch, ...this.inputShape];
      const n = dims.reduce((a, b) => a * b, 1);
      f = { [this.inputName]: new ort.Tensor('float32', randomNormal(n), dims) };
      this.feeds.set(batch, f);
    }
    return f;
  }

  private async once(feeds: Record<string, ort.Tensor>, batch: number): Promise<void> {
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds);
    } catch (e) {
      throw new LatencyError(
        `onnxruntime failed to run the ONNX ${this.label} on input ${shapeText([batch, ...this.inputShape])}: ${messageOf(e)}`,
        { cause: e },
      );
    }
    for (const t of Object.values(out)) t.dispose();
  }

  async warm(batch: number, n: number): Promise<void> {
    const feeds = this.feedsFor(batch);
    for (let i = 0; i < n; i++) await this.once(feeds, batch);
  }

  time(batch: number, runs: number, minTimeMs = 0, maxRuns = runs): Promise<number[]> {
    const feeds = this.feedsFor(batch);
    return timeAsync(() => this.once(feeds, batch), runs, minTimeMs, maxRuns);
  }

  async release(): Promise<void> {
    this.feeds.clear();
    await this.session.release();
  }
}

/**
 * Latency of an ONNX model in onnxruntime on CPU (intra-op threads =
 * `threads`, one inter-op thread, all graph optimisations, sequential
 * execution), on a random float32 batch of [batch, ...inputShape].
 */
export async function ortLatency(onnx: Uint8Array, inputShape: readonly number[], opts: OrtLatencyOptions): Promise<LatencyStats> {
  const loop = loopOptions(opts);
  const shape = checkInputShape(inputShape);
  const threads = threadCount(opts?.threads);
  const runner = await OrtRunner.create(onnx, shape, threads);
  try {
    await runner.warm(loop.batch, loop.warmup);
    const samples = await runner.time(loop.batch, loop.runs, loop.minTimeMs, loop.maxRuns);
    return statsOf(samples, loop.batch, loop.warmup, threads);
  } finally {
    await runner.release();
  }
}

// ---- slimnet engine ------------------------------------------------------------

/** Eval-mode, no-grad forwards of one model on random batches (one input tensor per batch size). */
class EngineRunner {
  private readonly inputs = new Map<number, Tensor>();
  readonly shape: number[];

  constructor(private readonly model: Model) {
    this.shape = modelInputShape(model);
  }

  private inputFor(batch: number): Tensor {
    let x = this.inputs.get(batch);
    if (!x) {
      // Random values without disturbing the caller's RNG stream (training reproducibility).
      const state = getRngState();
      try {
        x = randn([batch, ...this.shape]);
      } finally {
        setRngState(state);
        state.dispose();
      }
      this.inputs.set(batch, x);
    }
    return x;
  }

  private once(x: Tensor): void {
    const outs = this.model.forwardAll(x, { training: false });
    for (const o of outs) o.dispose();
  }

  warm(batch: number, n: number): void {
    const x = this.inputFor(batch);
    noGrad(() => {
      for (let i = 0; i < n; i++) this.once(x);
    });
  }

  /** libtorch runs synchronously on CPU: a forward has finished computing when it returns. */
  time(batch: number, runs: number, minTimeMs = 0, maxRuns = runs): number[] {
    const x = this.inputFor(batch);
    // The outputs' disposal is timed too; it is a free of a few buffers and
    // part of what an inference loop costs.
    return noGrad(() => timeSync(() => this.once(x), runs, minTimeMs, maxRuns));
  }

  dispose(): void {
    for (const x of this.inputs.values()) x.dispose();
    this.inputs.clear();
  }
}

/** Latency of `model`'s eval-mode forward in slimnet's engine (libtorch, CPU) on a random batch. */
export function engineLatency(model: Model, opts: EngineLatencyOptions): LatencyStats {
  const loop = loopOptions(opts);
  const runner = new EngineRunner(model);
  try {
    runner.warm(loop.batch, loop.warmup);
    const samples = runner.time(loop.batch, loop.runs, loop.minTimeMs, loop.maxRuns);
    return statsOf(samples, loop.batch, loop.warmup, getNumThreads());
  } finally {
    runner.dispose();
  }
}

// ---- before / after --------------------------------------------------------------

interface Runner {
  warm(batch: number, n: number): Promise<void> | void;
  time(batch: number, runs: number): Promise<number[]> | number[];
}

/**
 * Times `a` and `b` on `batch` in alternating rounds. On a shared machine the
 * load changes over seconds (other jobs, thermal and frequency scaling, page
 * cache); measuring all of `a` and then all of `b` would attribute that drift
 * to the models and could fake or hide a speed-up. Interleaving puts both
 * models under the same conditions in every round, and the order alternates
 * (ab, ba, ab, ...) so neither always runs on the other's warm caches. The
 * statistics pool every sample of a model; each round's median is kept too.
 */
async function interleaved(a: Runner, b: Runner, batch: number, runs: number, warmup: number, rounds: number, threads: [number, number]): Promise<SpeedupReport> {
  const n = Math.min(rounds, runs);
  await a.warm(batch, warmup);
  await b.warm(batch, warmup);
  const samples: [number[], number[]] = [[], []];
  const medians: [number[], number[]] = [[], []];
  for (let r = 0; r < n; r++) {
    // Split `runs` exactly over the rounds (earlier rounds get the remainder).
    const k = Math.floor(runs / n) + (r < runs % n ? 1 : 0);
    const order = r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const);
    for (const i of order) {
      const s = await (i === 0 ? a : b).time(batch, k);
      samples[i].push(...s);
      medians[i].push(median(s));
    }
  }
  const before = { ...statsOf(samples[0], batch, warmup, threads[0]), round_medians_ms: medians[0] };
  const after = { ...statsOf(samples[1], batch, warmup, threads[1]), round_medians_ms: medians[1] };
  return { before, after, speedup: before.median_ms / after.median_ms };
}

function exportFor(model: Model, which: string): Uint8Array {
  try {
    return exportOnnx(model);
  } catch (e) {
    throw new LatencyError(`cannot export the ${which} model '${model.graph.name}' to ONNX: ${messageOf(e)}`, { cause: e });
  }
}

/**
 * Measured speed-up of `after` (e.g. a pruned network) over `before`, per
 * batch size, in onnxruntime on both models' ONNX exports and (unless
 * `engine: false`) in slimnet's engine. Both models must take the same
 * single input.
 */
export async function compareLatency(before: Model, after: Model, opts: CompareLatencyOptions = {}): Promise<CompareLatencyResult> {
  const batches = opts.batches ?? [1, 64];
  if (!Array.isArray(batches) || batches.length === 0) throw new LatencyError('batches must be a non-empty list of batch sizes');
  for (const b of batches) positiveInt('batch', b);
  const runs = positiveInt('runs', opts.runs ?? 50);
  const rounds = positiveInt('rounds', opts.rounds ?? 5);
  const warmup = opts.warmup ?? 5;
  if (!Number.isInteger(warmup) || warmup < 0) throw new LatencyError(`warmup must be a non-negative integer, got ${warmup}`);
  const threads = threadCount(opts.threads);

  const shapeBefore = modelInputShape(before);
  const shapeAfter = modelInputShape(after);
  if (shapeText(shapeBefore) !== shapeText(shapeAfter)) {
    throw new LatencyError(`the models take different inputs: before ${shapeText(shapeBefore)}, after ${shapeText(shapeAfter)}`);
  }

  const result: CompareLatencyResult = { ort: {} };
  const ortBefore = await OrtRunner.create(exportFor(before, 'before'), shapeBefore, threads, "model 'before'");
  try {
    const ortAfter = await OrtRunner.create(exportFor(after, 'after'), shapeAfter, threads, "model 'after'");
    try {
      for (const b of batches) result.ort[b] = await interleaved(ortBefore, ortAfter, b, runs, warmup, rounds, [threads, threads]);
    } finally {
      await ortAfter.release();
    }
  } finally {
    await ortBefore.release();
  }

  if (opts.engine ?? true) {
    result.engine = {};
    const engineThreads = getNumThreads();
    const eb = new EngineRunner(before);
    const ea = new EngineRunner(after);
    try {
      for (const b of batches) result.engine[b] = await interleaved(eb, ea, b, runs, warmup, rounds, [engineThreads, engineThreads]);
    } finally {
      eb.dispose();
      ea.dispose();
    }
  }
  return result;
}

// ---- formatting ------------------------------------------------------------------

function ms(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 0.1) return x.toFixed(2);
  return x.toPrecision(2);
}

/** A one-line summary: `0.84 ms (p10 0.80, p90 0.95, 50 runs, b64)`. */
export function formatLatency(s: LatencyStats): string {
  return `${ms(s.median_ms)} ms (p10 ${ms(s.p10_ms)}, p90 ${ms(s.p90_ms)}, ${s.runs} runs, b${s.batch})`;
}

/** A one-line speed-up: `2.31x (1.20 ms -> 0.52 ms, b64)`. */
export function formatSpeedup(r: SpeedupReport): string {
  return `${r.speedup.toFixed(2)}x (${ms(r.before.median_ms)} ms -> ${ms(r.after.median_ms)} ms, b${r.before.batch})`;
}
