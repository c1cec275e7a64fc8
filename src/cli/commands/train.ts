// `slimnet train`: flags and config file → TrainSpec → trainRun
// (workflows/train.ts) → the printed lines and --json. `--show-versions`
// renders listTrainVersions; `--version N` resumes run N.
import type { Command } from 'commander';
import { trainRun, trainResultJson } from '../../workflows/train.js';
import { resolveTrainConfig } from '../../workflows/train-spec.js';
import { listTrainVersions } from '../../workflows/runs.js';
import { renderTable } from '../../report/table.js';
import { pctText, shortDate } from '../../report/format.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';
import { givenTrainOptions, readConfigFile, type TrainMetaOptions } from './train-options.js';
import { runDistributed } from '../launch.js';

function showVersions(identity: { root: string; dataset: string; arch: string }, json: boolean): void {
  const { dir, versions } = listTrainVersions(identity);
  if (json) {
    process.stdout.write(`${JSON.stringify({ dir, versions })}\n`);
    return;
  }
  if (!versions.length) {
    process.stdout.write(`no runs in ${dir}\n`);
    return;
  }
  process.stdout.write(`runs in ${dir}\n\n`);
  process.stdout.write(
    renderTable(
      ['version', 'epochs', 'best val acc %', 'test acc %', 'status', 'started', 'updated'],
      versions.map((r) => [r.version, `${r.epochsDone}/${r.epochs ?? '?'}`, pctText(r.bestValAccuracy), pctText(r.testAccuracy), r.status, shortDate(r.created ?? undefined), shortDate(r.updated ?? undefined)]),
      { align: ['right', 'right', 'right', 'right', 'left', 'left', 'left'] },
    ) + '\n',
  );
}

/** Runs the command; returns the exit code. */
export async function trainCommand(cmd: Command): Promise<number> {
  const meta = cmd.opts<TrainMetaOptions>();
  const json = meta.json === true;
  const given = givenTrainOptions(cmd, meta.config !== undefined ? readConfigFile(meta.config) : {});
  if (meta.showVersions) {
    const config = resolveTrainConfig(given);
    showVersions({ root: meta.runsDir, dataset: config.dataset, arch: config.arch }, json);
    return 0;
  }
  return runDistributed(meta.nproc, async (parallel) => {
    const interrupt = onInterrupt('stopping after the current step and saving a resumable state (Ctrl-C again to quit at once)');
    try {
      const report = await trainRun(
        {
          ...given,
          runsDir: meta.runsDir,
          ...(meta.version !== undefined ? { resume: meta.version } : {}),
          ...(meta.exportOnnx !== undefined && (parallel?.rank ?? 0) === 0 ? { exportOnnx: meta.exportOnnx } : {}),
          ...(parallel ? { parallel } : {}),
        },
        { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(json) },
      );
      if (json) process.stdout.write(`${JSON.stringify({ ...trainResultJson(report), ...(report.onnx ? { onnx: report.onnx } : {}) })}\n`);
      return report.interrupted ? EXIT_INTERRUPTED : 0;
    } finally {
      interrupt.release();
    }
  });
}
