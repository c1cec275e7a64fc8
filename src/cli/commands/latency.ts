// `slimnet latency`: flags → LatencySpec → latencyRun (src/workflows/latency.ts)
// → the table, or the JSON line with --json (the log then goes to stderr).
import { latencyJson, latencyRun, renderLatency } from '../../workflows/latency.js';
import { UsageError } from '../../util/errors.js';

export interface LatencyCliOptions {
  before: string;
  after: string;
  /** Comma-separated batch sizes. */
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
  const log = (s: string) => (o.json ? process.stderr : process.stdout).write(`${s}\n`);
  const report = await latencyRun({ before: o.before, after: o.after, batches: batchList(o.batches), runs: o.runs, rounds: o.rounds, threads: o.threads, engine: o.engine }, { onLog: log });
  log(`\n${renderLatency(report)}`);
  if (o.json) process.stdout.write(`${JSON.stringify(latencyJson(report))}\n`);
  return 0;
}
