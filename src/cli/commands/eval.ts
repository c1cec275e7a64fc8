// `slimnet eval --checkpoint PATH`: flags → EvalSpec → evaluateRun
// (workflows/evaluate.ts) → accuracy lines, the per-class table and the
// confusion matrix, or --json.
import { evaluateRun, evalResultJson, type EvalReport } from '../../workflows/evaluate.js';
import { renderTable } from '../../report/table.js';
import { pctText } from '../../report/format.js';
import { UsageError } from '../../util/errors.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';

export interface EvalOptions {
  checkpoint: string;
  dataset?: string;
  root?: string;
  split: string;
  batchSize: number;
  json?: boolean;
}

function render(m: EvalReport): string {
  return [
    `${m.checkpoint} on ${m.dataset}/${m.split} (${m.count} images, ${m.seconds.toFixed(1)} s)`,
    '',
    `accuracy           ${pctText(m.accuracy)} %`,
    `balanced accuracy  ${pctText(m.balancedAccuracy)} %`,
    `top-5 accuracy     ${pctText(m.top5)} %`,
    `loss               ${m.loss.toFixed(4)}`,
    '',
    'per class:',
    renderTable(
      ['#', 'class', 'support', 'correct', 'recall %', 'precision %'],
      m.perClass.map((c) => [c.index, c.name, c.support, c.correct, pctText(c.recall), c.precision !== null ? pctText(c.precision) : '']),
      { align: ['right', 'left', 'right', 'right', 'right', 'right'] },
    ),
    '',
    'confusion matrix (rows: true class, columns: predicted class, by #):',
    renderTable(
      ['true \\ pred', ...m.classes.map((_, j) => String(j))],
      m.confusion.map((row, i) => [`${i} ${m.classes[i]}`, ...row]),
    ),
  ].join('\n');
}

export async function evalCommand(o: EvalOptions): Promise<number> {
  if (o.split !== 'train' && o.split !== 'test') throw new UsageError(`--split must be train or test, got '${o.split}'`);
  const interrupt = onInterrupt();
  try {
    const m = await evaluateRun(
      { checkpoint: o.checkpoint, ...(o.dataset !== undefined ? { dataset: o.dataset } : {}), ...(o.root !== undefined ? { root: o.root } : {}), split: o.split, batchSize: o.batchSize },
      // Warnings go to stderr, so --json's stdout stays one object.
      { signal: interrupt.signal, onProgress: progressBars(), onLog: (line) => process.stderr.write(`${line}\n`) },
    );
    if (m.interrupted) return EXIT_INTERRUPTED;
    process.stdout.write(o.json ? `${JSON.stringify(evalResultJson(m))}\n` : `${render(m)}\n`);
    return 0;
  } finally {
    interrupt.release();
  }
}
