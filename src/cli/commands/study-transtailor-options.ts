// The options of `slimnet study transtailor`. Kept apart from the command so
// that registering it loads no engine code. Every option is left undefined
// when not given: the workflow resolves the defaults (full or --quick) and
// writes them to config.json.
import { InvalidArgumentError, type Command } from 'commander';
import { number, words } from '../parse-args.js';
import { TRANSTAILOR_STUDY_FULL as F, TRANSTAILOR_STUDY_QUICK as Q, type TransTailorStudySpec } from '../../workflows/study-transtailor-spec.js';

/** What commander hands over: the spec's fields as flags (targets by name), plus --version (the spec's resume), --runs-dir and --json. */
export interface StudyTransTailorRawOptions extends Omit<TransTailorStudySpec, 'resume' | 'invocation' | 'runsDir' | 'targets'> {
  targets?: string[];
  runsDir: string;
  version?: number;
  json?: boolean;
}

/** The workflow's spec from the options given; `--targets` picks among the default targets (full or --quick) by name. */
export function studyTransTailorSpecOf(o: StudyTransTailorRawOptions, invocation: string): TransTailorStudySpec {
  const { version, json: _json, targets, ...rest } = o;
  const spec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) spec[k] = v;
  if (targets !== undefined) {
    const known = (o.quick ? Q : F).targets;
    spec.targets = targets.map((name) => {
      const t = known.find((k) => k.name === name);
      if (!t) throw new InvalidArgumentError(`--targets: unknown target '${name}' (known: ${known.map((k) => k.name).join(', ')})`);
      return t;
    });
  }
  return { ...(spec as TransTailorStudySpec), ...(version !== undefined && { resume: version }), invocation };
}

function intList(v: string): number[] {
  const out = words(v).map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0)) throw new InvalidArgumentError(`expected comma-separated integers >= 0 like 0,1,2, got '${v}'`);
  return out;
}

const both = (full: unknown, quick: unknown): string => `default: ${String(full)}; --quick: ${String(quick)}`;
const targetText = F.targets.map((t) => `${t.name} = ${t.dataset}${t.classes ? ` (${t.classes.join(', ')})` : ''}`).join('; ');

export function addStudyTransTailorOptions(cmd: Command): Command {
  const int = number('int');
  const float = number('float');
  return cmd
    .option('--source-dataset <name>', `the source task (${both(F.sourceDataset, Q.sourceDataset)})`)
    .option('--arch <name>', `the source architecture, trained here with slimnet train (${both(F.arch, Q.arch)})`)
    .option('--width <x>', `its width multiplier (${both(F.width, Q.width)})`, float)
    .option('--source-epochs <n>', `source training epochs (${both(F.sourceEpochs, Q.sourceEpochs)})`, int)
    .option('--source-fraction <x>', `share of the source training split (${both(F.sourceFraction, Q.sourceFraction)})`, float)
    .option('--source-lr <x>', `Adam learning rate of the source training (${both(F.sourceLr, Q.sourceLr)})`, float)
    .option('--targets <list>', `target tasks by name: ${targetText} (default: both)`, words)
    .option('--seeds <list>', `seeds; each trains its own source (${both(F.seeds.join(','), Q.seeds.join(','))})`, intList)
    .option('--tau <pp>', `TransTailor's τ: largest validation balanced accuracy drop kept, in pp (${both(F.tau, Q.tau)})`, float)
    .option('--prune-share <x>', `share of the remaining filters removed per iteration (${both(F.pruneShare, Q.pruneShare)})`, float)
    .option('--alpha-iters <n>', `α updates per iteration (${both(F.alphaIters, Q.alphaIters)})`, int)
    .option('--finetune-epochs <n>', `fine-tuning epochs of the transfer and of each iteration, early stopping on validation balanced accuracy (${both(F.finetuneEpochs, Q.finetuneEpochs)})`, int)
    .option('--patience <n>', `early stopping patience (${both(F.patience, Q.patience)})`, int)
    .option('--max-iterations <n>', `TransTailor iterations at most (${both(F.maxIterations, Q.maxIterations)})`, int)
    .option('--batch-size <n>', `training batch size of the target tasks (${both(F.batchSize, Q.batchSize)})`, int)
    .option('--latency-runs <n>', `timed runs of each TransTailor run's latency measurement (${both(F.latencyRuns, Q.latencyRuns)})`, int)
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--version <n>', 'resume study version N: finished members are read, an interrupted source or TransTailor run resumes its own run (default: start a new version)', int)
    .option('--quick', 'CI mode: lenet5 x0.5, a few hundred images per task, two iterations, seeds 0,1; about a minute (default: off)')
    .option('--json', 'print one JSON object with the table on the last stdout line (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step: the finished members are kept and reported (exit code 130); --version N resumes.' +
        '\n\nExamples:\n  slimnet study transtailor --quick' +
        '\n  slimnet study transtailor' +
        '\n  slimnet study transtailor --targets digits --seeds 0 --max-iterations 5' +
        '\n  slimnet study transtailor --version 0',
    );
}
