// `slimnet transtailor`: flags → TransTailorSpec → transtailorRun
// (src/workflows/transtailor.ts) → the JSON line. The workflow writes the run
// directory (runs/transtailor/<dataset>-<arch>/version_N: config.json,
// iterations.jsonl / .csv, finetuned.safetensors, kept.safetensors (what
// --version resumes from), final.safetensors, final.onnx, accuracy.png,
// channels.png, result.json, status.json, run.log) and logs every line, which
// this prints (to stderr with --json, where stdout carries the JSON).
import { transtailorResultJson, transtailorRun, type TransTailorSpec } from '../../workflows/transtailor.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';

/** The options commander hands over: the flags typed (defaults are removed, see transtailor-options.ts), strings where the spec has lists or unions. */
export interface TransTailorCliOptions extends Omit<TransTailorSpec, 'classes' | 'alphaInit' | 'importanceNorm'> {
  /** Comma-separated class names or indices. */
  classes?: string;
  alphaInit?: string;
  importanceNorm?: string;
  /** Resume this run version (the spec's resume). */
  version?: number;
  json?: boolean;
}

/** The spec the flags say; resolveTransTailorSpec checks the values (a wrong one names its flag). */
export function transtailorSpecFromFlags(o: TransTailorCliOptions): TransTailorSpec {
  const { json: _json, classes, alphaInit, importanceNorm, version, ...rest } = o;
  return {
    ...rest,
    ...(version !== undefined ? { resume: version } : {}),
    ...(classes !== undefined ? { classes: classes.split(',').map((c) => c.trim()).filter(Boolean) } : {}),
    ...(alphaInit !== undefined ? { alphaInit: alphaInit as TransTailorSpec['alphaInit'] } : {}),
    ...(importanceNorm !== undefined ? { importanceNorm: importanceNorm as TransTailorSpec['importanceNorm'] } : {}),
  };
}

export async function transtailorCommand(o: TransTailorCliOptions): Promise<number> {
  const interrupt = onInterrupt('stopping after this step; the last model within τ is kept, saved and reported (Ctrl-C again quits at once)');
  try {
    const report = await transtailorRun(transtailorSpecFromFlags(o), { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(o.json === true) });
    if (o.json) process.stdout.write(`${JSON.stringify(transtailorResultJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
