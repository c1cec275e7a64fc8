// The latency workflow behind `slimnet latency`: the measured speed-up of one
// checkpoint over another (e.g. a pruned model over its base) in onnxruntime
// and the slimnet engine, next to the MAC ratio. Pruning measures this at its
// end, often while the machine is busy; this re-measures later, on a quiet one.
import { loadCheckpoint, summarize, type Model } from '../graph/index.js';
import { compareLatency, type SpeedupReport } from '../measure/index.js';
import { availableParallelism } from 'node:os';
import { getNumThreads, setNumThreads } from '../tensor/index.js';
import { count, fmt, plural, times } from '../report/format.js';
import { renderTable } from '../report/table.js';
import { UsageError } from '../util/errors.js';
import type { Observer } from '../util/events.js';
import { sizeChange, type SizeChange } from './size-change.js';

export interface LatencySpec {
  /** The reference checkpoint (e.g. the trained base). */
  before: string;
  /** The checkpoint compared with it (e.g. pruned.safetensors). */
  after: string;
  /** Batch sizes. Default [1, 64]. */
  batches?: readonly number[];
  /** Timed runs per model and batch size. Default 100. */
  runs?: number;
  /** Interleaved rounds the runs are split into. Default 5. */
  rounds?: number;
  /** Intra-op threads of both runtimes while measuring (default: the engine's thread count). */
  threads?: number;
  /** Also time slimnet's engine. Default true. */
  engine?: boolean;
}

/** One runtime at one batch size: median milliseconds per call of each model. */
export interface LatencyRow {
  runtime: 'onnxruntime' | 'slimnet';
  batch: number;
  beforeMs: number;
  afterMs: number;
  /** beforeMs / afterMs (> 1: `after` is faster). */
  speedup: number;
  /** speedup / macsX: the share of the MAC reduction that shows up as speed. */
  ofMacRatio: number;
}

export interface LatencyReport extends SizeChange {
  /** Threads both runtimes ran with. */
  threads: number;
  batches: number[];
  /** onnxruntime rows (one per batch), then slimnet's engine rows if timed. */
  rows: LatencyRow[];
}

interface ResolvedLatencySpec {
  before: string;
  after: string;
  batches: number[];
  runs: number;
  rounds: number;
  threads?: number;
  engine: boolean;
}

/**
 * The most threads --threads accepts: four per core this process may use.
 * More only time-slice the cores (1000 threads stalled the machine for
 * minutes), and a measurement with them means nothing.
 */
export function maxLatencyThreads(): number {
  return availableParallelism() * 4;
}

/** The defaults filled in and the values checked (the messages name the flags). */
function resolve(spec: LatencySpec): ResolvedLatencySpec {
  if (typeof spec?.before !== 'string' || spec.before === '') throw new UsageError(`--before is required (the reference checkpoint), got ${JSON.stringify(spec?.before)}`);
  if (typeof spec.after !== 'string' || spec.after === '') throw new UsageError(`--after is required (the checkpoint to compare), got ${JSON.stringify(spec.after)}`);
  const s: ResolvedLatencySpec = { before: spec.before, after: spec.after, batches: [...(spec.batches ?? [1, 64])], runs: spec.runs ?? 100, rounds: spec.rounds ?? 5, threads: spec.threads, engine: spec.engine ?? true };
  if (s.batches.length === 0 || s.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new UsageError(`--batches is a comma-separated list of positive integers like 1,64; got '${s.batches.join(',')}'`);
  for (const [flag, v] of [['runs', s.runs], ['rounds', s.rounds], ['threads', s.threads ?? 1]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  }
  const most = maxLatencyThreads();
  if (s.threads !== undefined && s.threads > most) throw new UsageError(`--threads must be at most ${most} (4 per core; this machine has ${plural(availableParallelism(), 'core')}), got ${s.threads}`);
  return s;
}

/** Measures `after` against `before`; logs what it times through observer.onLog. */
export async function latencyRun(spec: LatencySpec, observer: Observer = {}): Promise<LatencyReport> {
  const s = resolve(spec);
  const say = (line: string): void => observer.onLog?.(line);
  const models: Model[] = [];
  const threadsBefore = getNumThreads();
  try {
    models.push(loadCheckpoint(s.before).model, loadCheckpoint(s.after).model);
    const [before, after] = models as [Model, Model];
    // Two models that take different inputs cannot be timed on one batch: say so before timing anything.
    const input = (m: Model): string => `[${m.graph.shape(m.graph.inputs[0]!.name).join(', ')}]`;
    if (input(before) !== input(after)) throw new UsageError(`--before and --after must take the same input: ${s.before} takes ${input(before)}, ${s.after} takes ${input(after)}`);
    const sb = summarize(before.graph).totals;
    const sa = summarize(after.graph).totals;
    if (s.threads !== undefined) setNumThreads(s.threads);
    const threads = getNumThreads();
    say(`before: ${s.before}: ${count(sb.params)} params, ${count(sb.macs)} MACs`);
    say(`after:  ${s.after}: ${count(sa.params)} params, ${count(sa.macs)} MACs`);
    say(`timing batches ${s.batches.join(', ')}: ${plural(s.runs, 'run')} per model in ${plural(s.rounds, 'interleaved round')}, ${plural(threads, 'thread')}...`);
    const r = await compareLatency(before, after, { batches: s.batches, runs: s.runs, rounds: s.rounds, threads, engine: s.engine });
    const size = sizeChange(sb, sa);
    const row = (runtime: LatencyRow['runtime'], rep: SpeedupReport): LatencyRow => ({ runtime, batch: rep.before.batch, beforeMs: rep.before.median_ms, afterMs: rep.after.median_ms, speedup: rep.speedup, ofMacRatio: rep.speedup / size.macsX });
    return {
      ...size,
      threads,
      batches: s.batches,
      rows: [...s.batches.map((b) => row('onnxruntime', r.ort[b]!)), ...(r.engine ? s.batches.map((b) => row('slimnet', r.engine![b]!)) : [])],
    };
  } finally {
    // A library caller's thread setting is theirs: restore it.
    if (s.threads !== undefined) setNumThreads(threadsBefore);
    for (const m of models) m.dispose();
  }
}

/** The table of a latency report, and the ratio line under it. */
export function renderLatency(r: LatencyReport): string {
  const table = renderTable(
    ['runtime', 'batch', 'before ms', 'after ms', 'speed-up', 'of MAC ratio'],
    r.rows.map((x) => [x.runtime, `b${x.batch}`, fmt(x.beforeMs, 3), fmt(x.afterMs, 3), times(x.speedup), fmt(x.ofMacRatio, 2)]),
  );
  return `${table}\nparams ${times(r.paramsX)} fewer, MACs ${times(r.macsX)} fewer`;
}

/** The snake_case record of `slimnet latency --json` (keys as they have always been). */
export function latencyJson(r: LatencyReport): Record<string, number | null> {
  const out: Record<string, number | null> = { params_x: r.paramsX, macs_x: r.macsX, threads: r.threads };
  for (const b of r.batches) {
    const ort = r.rows.find((x) => x.runtime === 'onnxruntime' && x.batch === b)!;
    const engine = r.rows.find((x) => x.runtime === 'slimnet' && x.batch === b);
    out[`speedup_ort_b${b}`] = ort.speedup;
    out[`ms_ort_b${b}_before`] = ort.beforeMs;
    out[`ms_ort_b${b}_after`] = ort.afterMs;
    if (engine) out[`speedup_engine_b${b}`] = engine.speedup;
  }
  return out;
}
