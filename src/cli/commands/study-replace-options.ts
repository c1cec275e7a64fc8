// The options of `slimnet study replace`. Kept apart from the command so that
// registering it loads no engine code. Every option is left undefined when
// not given: the workflow resolves the defaults (full or --quick) and writes
// them to config.json.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { number, words } from '../parse-args.js';
import {
  PRUNE_CRITERIA,
  REPLACE_STUDY_BASELINES,
  REPLACE_STUDY_DATASETS,
  REPLACE_STUDY_FULL as F,
  REPLACE_STUDY_QUICK as Q,
  REPLACE_STUDY_VARIANTS,
  type ReplaceStudySpec,
} from '../../workflows/study-replace-spec.js';

/** What commander hands over: the spec's fields as flags, plus --version (the spec's resume), --runs-dir and --json. */
export interface StudyReplaceRawOptions extends Omit<ReplaceStudySpec, 'resume' | 'invocation' | 'runsDir'> {
  runsDir: string;
  version?: number;
  json?: boolean;
}

/** The workflow's spec from the options given (undefined ones take the workflow's defaults); `invocation` is the command line report.md shows. */
export function studyReplaceSpecOf(o: StudyReplaceRawOptions, invocation: string): ReplaceStudySpec {
  const { version, json: _json, ...rest } = o;
  const spec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) spec[k] = v;
  return { ...(spec as ReplaceStudySpec), ...(version !== undefined && { resume: version }), invocation };
}

function intList(v: string): number[] {
  const out = words(v).map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0)) throw new InvalidArgumentError(`expected comma-separated integers >= 0 like 0,1,2, got '${v}'`);
  return out;
}

const both = (full: unknown, quick: unknown): string => `default: ${String(full)}; --quick: ${String(quick)}`;

/** Registers every flag and the help text of `slimnet study replace`. */
export function addStudyReplaceOptions(cmd: Command): Command {
  const int = number('int');
  const float = number('float');
  return cmd
    .addOption(new Option('--dataset <name>', `data set (${both(F.dataset, Q.dataset)})`).choices(REPLACE_STUDY_DATASETS))
    .option('--arch <name>', `the source architecture, a zoo network with BatchNorm (${both(F.arch, Q.arch)})`)
    .option('--width <x>', `its width multiplier (${both(F.width, Q.width)})`, float)
    .option('--fraction <x>', `stratified share of the training split, a tenth of it held out for validation (${both(F.fraction, Q.fraction)})`, float)
    .option('--source-epochs <n>', `source training epochs (${both(F.sourceEpochs, Q.sourceEpochs)})`, int)
    .option('--source-lr <x>', `Adam learning rate of the source and of the from-scratch baseline, cosine schedule (${both(F.sourceLr, Q.sourceLr)})`, float)
    .option('--seeds <list>', `seeds; each trains its own source and members (${both(F.seeds.join(','), Q.seeds.join(','))})`, intList)
    .option('--param-share <x>', `share of the source's parameters every variant removes (${both(F.paramShare, Q.paramShare)})`, float)
    .option('--schedule <spec>', `the base variant's α schedule (exp:R, linear:N, cosine:N, step:a,b,...); the schedule variants take as many α values (${both(F.schedule, Q.schedule)})`)
    .option('--patience <n>', `epochs at each α (${both(F.patience, Q.patience)})`, int)
    .option('--lr <x>', `Adam learning rate of the replacements and of the pruning's retraining and fine-tuning, constant (${both(F.lr, Q.lr)})`, float)
    .option('--batch-size <n>', `training batch size of every member (${both(F.batchSize, Q.batchSize)})`, int)
    .option('--noise-std <x>', `std of the noise variant's Gaussian noise on half the training images, normalised-input units (${both(F.noiseStd, Q.noiseStd)})`, float)
    .option('--variants <list>', `variants run, base included: ${REPLACE_STUDY_VARIANTS.join(', ')} (${both('all', Q.variants.join(','))})`, words)
    .option('--baselines <list>', `baselines at the base variant's size: ${REPLACE_STUDY_BASELINES.join(', ')} (default: both)`, words)
    .addOption(new Option('--prune-criterion <name>', `the pruning baseline's channel criterion (${both(F.pruneCriterion, Q.pruneCriterion)})`).choices(PRUNE_CRITERIA))
    .option('--prune-step-share <x>', `share of the remaining channels each pruning step removes (${both(F.pruneStepShare, Q.pruneStepShare)})`, float)
    .option('--prune-retrain-iters <n>', `retraining iterations after each pruning step (${both(F.pruneRetrainIters, Q.pruneRetrainIters)})`, int)
    .option('--collapse-pp <x>', `a replacement stops its schedule when validation accuracy falls more than X points below the source's (${both(F.collapsePp, Q.collapsePp)})`, float)
    .option('--latency-runs <n>', `timed runs of each member's latency measurement (${both(F.latencyRuns, Q.latencyRuns)})`, int)
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--version <n>', 'resume study version N: finished members are read, an interrupted source, replacement or scratch run resumes its own run, an interrupted pruning starts again (default: start a new version)', int)
    .option('--quick', `CI mode: ${Q.arch} x${Q.width} on ${Q.fraction * 100} % of the bundled digits, 2 α values, variants ${Q.variants.join(',')}, both baselines, seeds ${Q.seeds.join(',')} (default: off)`)
    .option('--json', 'print one JSON object with the table on the last stdout line (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step: the finished members are kept and reported (exit code 130); --version N resumes.' +
        '\n\nExamples:\n  slimnet study replace --quick' +
        '\n  slimnet study replace' +
        '\n  slimnet study replace --seeds 0 --variants base,logit-mse,lsq --schedule exp:0.2' +
        '\n  slimnet study replace --version 0',
    );
}
