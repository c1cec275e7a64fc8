// `slimnet pipeline`: flags → PipelineSpec → pipelineRun (src/workflows/pipeline.ts),
// which trains and then prunes in this process; every line of both stages is
// printed (to stderr with --json, where stdout carries one JSON object with
// each stage's result).
import { pipelineResultJson, pipelineRun, type PipelineSpec } from '../../workflows/pipeline.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';

export interface PipelineOptions extends Omit<PipelineSpec, 'dataset'> {
  dataset: string;
  json?: boolean;
}

export async function pipelineCommand(o: PipelineOptions): Promise<number> {
  const { json, ...rest } = o;
  const interrupt = onInterrupt('stopping after this step; what each stage kept so far is saved and reported (Ctrl-C again quits at once)');
  try {
    const report = await pipelineRun({ ...rest, dataset: o.dataset as PipelineSpec['dataset'] }, { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(json === true) });
    if (json) process.stdout.write(`${JSON.stringify(pipelineResultJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
