// `slimnet replace`: flags → ReplaceSpec → replaceRun (workflows/replace.ts)
// → the printed lines and --json.
import type { Command } from 'commander';
import { replaceResultJson, replaceRun } from '../../workflows/replace.js';
import type { ReplaceAlphaMode, ReplaceBranchInit } from '../../workflows/replace-spec.js';
import type { ReplaceLoss } from '../../workflows/replace-spec.js';
import type { TrainConfig } from '../../workflows/train-spec.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { runDistributed } from '../launch.js';
import { printLog } from './common.js';
import { givenTrainOptions } from './train-options.js';

export interface ReplaceFlags {
  checkpoint: string;
  paramShare?: number;
  layers?: string;
  schedule?: string;
  patience?: number;
  alpha?: ReplaceAlphaMode;
  branchInit?: ReplaceBranchInit;
  freezeOriginal?: boolean;
  branchWidth?: number;
  loss?: ReplaceLoss;
  collapsePp?: number;
  lrSchedule?: TrainConfig['schedule'];
  latencyRuns?: number;
  runsDir: string;
  version?: number;
  json?: boolean;
  nproc?: number;
}

/** Runs the command; returns the exit code. */
export async function replaceCommand(cmd: Command): Promise<number> {
  const f = cmd.opts<ReplaceFlags>();
  const json = f.json === true;
  // --schedule is α's here: the training options' `schedule` (the learning rate's) comes from --lr-schedule.
  const { schedule: _alpha, ...given } = givenTrainOptions(cmd, {});
  const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return runDistributed(f.nproc, async (parallel) => {
    const interrupt = onInterrupt('stopping after the current step and saving a resumable state (Ctrl-C again to quit at once)');
    try {
      const report = await replaceRun(
        {
          ...given,
          ...defined({ schedule: f.lrSchedule, paramShare: f.paramShare, layers: f.layers, alphaSchedule: f.schedule, patience: f.patience, alphaMode: f.alpha, branchInit: f.branchInit, branchWidth: f.branchWidth, freezeOriginal: f.freezeOriginal, loss: f.loss, collapsePp: f.collapsePp, latencyRuns: f.latencyRuns, resume: f.version }),
          checkpoint: f.checkpoint,
          runsDir: f.runsDir,
          ...(parallel ? { parallel } : {}),
        },
        { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(json) },
      );
      if (json) process.stdout.write(`${JSON.stringify(replaceResultJson(report))}\n`);
      return report.interrupted ? EXIT_INTERRUPTED : 0;
    } finally {
      interrupt.release();
    }
  });
}
