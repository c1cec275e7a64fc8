// `slimnet latency`: measured speed-up of one checkpoint over another (e.g. a
// pruned model over its base) in onnxruntime and the slimnet engine, next to
// the MAC ratio. Pruning runs measure this at their end, often while the
// machine is busy training; this re-measures later, on a quiet machine.
import { loadCheckpoint, summarize, type Model } from '../../graph/index.js';
import { compareLatency, type SpeedupReport } from '../../measure/index.js';
import { getNumThreads, setNumThreads } from '../../tensor/index.js';
import { renderTable } from '../../report/table.js';
import { UsageError } from '../errors.js';

export interface LatencyCliOptions {
  before: string;
  after: string;
  batches: string;
  runs: number;
  rounds: number;
  threads?: number;
  engine: boolean;
  json?: boolean;
}

function batchList(s: string): number[] {
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || out.some((b) => !Number.isInteger(b) || b < 1)) throw new UsageError(`--batches is a comma-separated list of positive integers like 1,64; got '${s}'`);
  return out;
}

export async function latencyCommand(o: LatencyCliOptions): Promise<number> {
  const batches = batchList(o.batches);
  for (const [flag, v] of [['runs', o.runs], ['rounds', o.rounds], ['threads', o.threads ?? 1]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  }
  const log = (s: string) => (o.json ? process.stderr : process.stdout).write(`${s}\n`);
  const models: Model[] = [];
  try {
    models.push(loadCheckpoint(o.before).model, loadCheckpoint(o.after).model);
    const [before, after] = models as [Model, Model];
    const sb = summarize(before.graph).totals;
    const sa = summarize(after.graph).totals;
    if (o.threads !== undefined) setNumThreads(o.threads);
    const threads = getNumThreads();
    log(`before: ${o.before}: ${sb.params.toLocaleString('en-US')} params, ${sb.macs.toLocaleString('en-US')} MACs`);
    log(`after:  ${o.after}: ${sa.params.toLocaleString('en-US')} params, ${sa.macs.toLocaleString('en-US')} MACs`);
    log(`timing batches ${batches.join(', ')}: ${o.runs} runs per model in ${o.rounds} interleaved rounds, ${threads} thread(s)...`);
    const r = await compareLatency(before, after, { batches, runs: o.runs, rounds: o.rounds, threads, engine: o.engine });
    const macsX = sb.macs / sa.macs;
    const row = (name: string, rep: SpeedupReport) => [name, `b${rep.before.batch}`, rep.before.median_ms.toFixed(3), rep.after.median_ms.toFixed(3), `${rep.speedup.toFixed(2)}x`, (rep.speedup / macsX).toFixed(2)];
    const rows = [...batches.map((b) => row('onnxruntime', r.ort[b]!)), ...(r.engine ? batches.map((b) => row('slimnet', r.engine![b]!)) : [])];
    log(`\n${renderTable(['runtime', 'batch', 'before ms', 'after ms', 'speed-up', 'of MAC ratio'], rows)}`);
    log(`params ${(sb.params / sa.params).toFixed(2)}x fewer, MACs ${macsX.toFixed(2)}x fewer`);
    if (o.json) {
      const out: Record<string, number | null> = { params_x: sb.params / sa.params, macs_x: macsX, threads };
      for (const b of batches) {
        out[`speedup_ort_b${b}`] = r.ort[b]!.speedup;
        out[`ms_ort_b${b}_before`] = r.ort[b]!.before.median_ms;
        out[`ms_ort_b${b}_after`] = r.ort[b]!.after.median_ms;
        if (r.engine) out[`speedup_engine_b${b}`] = r.engine[b]!.speedup;
      }
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
    return 0;
  } finally {
    for (const m of models) m.dispose();
  }
}
