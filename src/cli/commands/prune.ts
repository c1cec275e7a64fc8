// `slimnet prune`: flags → PruneSpec → pruneRun (src/workflows/prune.ts) →
// the JSON line. The workflow writes the run directory
// (runs/prune/<dataset>-<arch>/version_N: config.json, steps.csv / .jsonl,
// channels.csv, pruned.safetensors, pruned.onnx, accuracy.png, channels.png,
// result.json, status.json, run.log) and logs every line, tables included,
// which this prints (to stderr with --json, where stdout carries the JSON).
import { pruneResultJson, pruneRun, type PruneSpec } from '../../workflows/prune.js';
import type { Norm, Protocol, Reduce, Scope } from '../../prune/index.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';

/** The options commander hands over (strings where the spec has lists or unions). */
export interface PruneCliOptions extends Omit<PruneSpec, 'scope' | 'norm' | 'reduce' | 'protocol' | 'layers' | 'exclude' | 'noFloor' | 'classes'> {
  scope?: string;
  norm?: string;
  reduce?: string;
  protocol?: string;
  /** Comma-separated layer names. */
  layers?: string;
  exclude?: string;
  /** Comma-separated class names or indices. */
  classes?: string;
  /** false with --no-floor (commander's negated flag; true otherwise). */
  floor?: boolean;
  json?: boolean;
}

const list = (s: string | undefined): string[] | undefined => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

/** The spec the flags say; resolvePruneSpec checks the values (a wrong one names its flag). */
export function pruneSpecFromFlags(o: PruneCliOptions): PruneSpec {
  const { json: _json, layers, exclude, classes, floor, ...rest } = o;
  return {
    ...rest,
    scope: o.scope as Scope | undefined,
    norm: o.norm as Norm | undefined,
    reduce: o.reduce as Reduce | undefined,
    protocol: o.protocol as Protocol | undefined,
    layers: list(layers),
    exclude: list(exclude),
    ...(classes !== undefined ? { classes: classes.split(',').map((x) => x.trim()) } : {}),
    ...(floor === false ? { noFloor: true } : {}),
  };
}

export async function pruneCommand(o: PruneCliOptions): Promise<number> {
  const interrupt = onInterrupt('stopping after this step; the best model so far is kept and reported (Ctrl-C again quits at once)');
  try {
    const report = await pruneRun(pruneSpecFromFlags(o), { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(o.json === true) });
    if (o.json) process.stdout.write(`${JSON.stringify(pruneResultJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
