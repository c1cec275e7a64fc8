// `slimnet distill`: flags → DistillSpec → distillRun (workflows/distill.ts)
// → the printed lines and --json.
import type { Command } from 'commander';
import { distillRun, type DistillReport } from '../../workflows/distill.js';
import { trainResultJson } from '../../workflows/train.js';
import { UsageError } from '../../util/errors.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { runDistributed } from '../launch.js';
import { printLog } from './common.js';
import { givenTrainOptions, readConfigFile, type TrainMetaOptions } from './train-options.js';

export interface DistillFlags extends TrainMetaOptions {
  teacher: string;
  student?: string;
  loss: string;
  lossParam?: string[];
  ceWeight?: number;
  pairs?: string;
  cacheTeacherLogits?: boolean;
  teacherInputShape?: number[];
  exportOnnx?: string | boolean;
}

/** 'kd.temperature=2' → ['kd.temperature', 2]. */
export function parseLossParam(text: string): [string, number] {
  const m = /^([A-Za-z0-9_-]+\.[A-Za-z0-9_]+)=(.+)$/.exec(text.trim());
  const v = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(v)) throw new UsageError(`--loss-param '${text}': write loss.param=number (e.g. kd.temperature=2, at.weight=500)`);
  return [m[1]!, v];
}

export function distillResultJson(r: DistillReport): Record<string, unknown> {
  return { ...trainResultJson(r), teacher: r.teacher, agreement: r.agreement, trainingSeconds: r.trainingSeconds, cacheSeconds: r.cacheSeconds, onnx: r.onnx };
}

/** Runs the command; returns the exit code. */
export async function distillCommand(cmd: Command): Promise<number> {
  const f = cmd.opts<DistillFlags>();
  const json = f.json === true;
  const given = givenTrainOptions(cmd, f.config !== undefined ? readConfigFile(f.config) : {});
  return runDistributed(f.nproc, async (parallel) => {
    const interrupt = onInterrupt('stopping after the current step and saving a resumable state (Ctrl-C again to quit at once)');
    try {
      const report = await distillRun(
        {
          ...given,
          teacher: f.teacher,
          ...(f.student !== undefined ? { student: f.student } : {}),
          loss: f.loss,
          lossParams: Object.fromEntries((f.lossParam ?? []).map(parseLossParam)),
          ...(f.ceWeight !== undefined ? { ceWeight: f.ceWeight } : {}),
          ...(f.pairs !== undefined ? { pairs: f.pairs } : {}),
          ...(f.cacheTeacherLogits !== undefined ? { cacheTeacherLogits: f.cacheTeacherLogits } : {}),
          ...(f.teacherInputShape !== undefined ? { teacherInputShape: f.teacherInputShape } : {}),
          ...(f.exportOnnx !== undefined ? { exportOnnx: f.exportOnnx } : {}),
          runsDir: f.runsDir,
          ...(f.version !== undefined ? { resume: f.version } : {}),
          ...(parallel ? { parallel } : {}),
        },
        { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(json) },
      );
      if (json) process.stdout.write(`${JSON.stringify(distillResultJson(report))}\n`);
      return report.interrupted ? EXIT_INTERRUPTED : 0;
    } finally {
      interrupt.release();
    }
  });
}
