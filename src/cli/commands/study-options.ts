// The options of `slimnet study thesis`. Kept apart from the command so that
// registering it loads no engine code. Options whose default depends on
// --quick, on the data set or on --checkpoint are left undefined here and
// resolved by the workflow (config.json holds the final values).
import { InvalidArgumentError, Option, type Command } from 'commander';
import { channelMultiple, number, words } from '../parse-args.js';
import { THESIS_STUDY_DATASETS as STUDY_DATASETS, THESIS_STUDY_DEFAULTS as D, type ThesisStudySpec } from '../../workflows/study-thesis-spec.js';

/**
 * What commander hands over: the spec's fields as flags (undefined: not
 * given, the workflow resolves the default), except that options with a
 * default in --help arrive set and lists arrive as arrays, plus the
 * command's own options (--version is the spec's resume).
 */
export interface StudyRawOptions
  extends Omit<ThesisStudySpec, 'runsDir' | 'resume' | 'invocation' | 'criteria' | 'norms' | 'retrainIters' | 'protocolCriteria' | 'parts' | 'evalBatchSize' | 'tableCriterion'> {
  criteria: string[];
  norms: string[];
  retrainIters?: number[];
  protocolCriteria: string[];
  parts: string[];
  evalBatchSize: number;
  tableCriterion: string;
  runsDir: string;
  version?: number;
  json?: boolean;
}

/**
 * The workflow's spec: the options given on the command line (`fromCli`,
 * commander's value source 'cli'); the rest take the workflow's defaults,
 * which are the ones shown in --help. `invocation` is the command line
 * report.md shows.
 */
export function studySpecOf(o: StudyRawOptions, fromCli: readonly string[], invocation: string): ThesisStudySpec {
  const given = new Set(fromCli);
  const { version, json: _json, dryRun, runsDir, ...rest } = o;
  const spec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (given.has(k) && v !== undefined) spec[k] = v;
  return { ...(spec as ThesisStudySpec), runsDir, ...(version !== undefined && { resume: version }), ...(dryRun && { dryRun: true }), invocation };
}

function intList(v: string): number[] {
  const out = words(v).map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n))) throw new InvalidArgumentError(`expected comma-separated integers like 10,50,100, got '${v}'`);
  return out;
}

export function addStudyThesisOptions(cmd: Command): Command {
  const int = number('int');
  const float = number('float');
  return cmd
    .addOption(new Option('--dataset <name>', "data set (28x28 grey digits or clothes; default: mnist-digits, bundled, or the checkpoint's)").choices(STUDY_DATASETS))
    .option('--root <dir>', "data folder (default: the data set's default folder, or the checkpoint's)")
    .option('--checkpoint <path>', "study this trained model (e.g. runs/train/mnist-digits-lenet5/version_0/best.safetensors) instead of training a lenet5 base with the thesis recipe; its data set, split and seed are the defaults (default: train one)")
    .option('--iterations <n>', 'training iterations of the base model and of the from-scratch model of Table 4.1 (default: 10000 as in the thesis for mnist / fashion-mnist, 3000 for the 6,400 training digits of mnist-digits; --quick: 100)', int)
    .option('--batch-size <n>', 'batch size of training, scoring and retraining (default: 100 as in the thesis; --quick: 32)', int)
    .option('--lr <x>', 'Adam learning rate of training and retraining (default: 1e-4 as in the thesis; --quick: 1e-3, so the few iterations learn something)', float)
    .option('--width <x>', 'width multiplier of the lenet5 base (default: 1; --quick: 0.25; not with --checkpoint)', float)
    .option('--fraction <x>', "stratified share of the training split to use (default: 1, or the checkpoint's; --quick: 0.05)", float)
    .option('--validation <n>', "samples held out of the training split for the floor and the curves: a count or a fraction (default: 5000 as in the thesis, at most a fifth of the training split; --quick: 0.2; the checkpoint's own split with --checkpoint)", float)
    .addOption(new Option('--criteria <list>', 'criteria compared (l1 = weight magnitude, activation = mean activation, taylor, random = the reference; also l2, apoz)').argParser(words).default([...D.criteria], D.criteria.join(',')))
    .addOption(new Option('--norms <list>', 'normalisations of the global ranking compared without retraining (none, l1, l2, max)').argParser(words).default([...D.norms], D.norms.join(',')))
    .addOption(new Option('--retrain-iters <list>', 'retraining iterations per step compared; the largest is used for the protocol comparison and Table 4.1 (default: 10,50,100 as in the thesis; --quick: 1,2,3)').argParser(intList))
    .option('--points <n>', 'steps per curve without retraining: maps per step are chosen so the scope is emptied in this many steps (default: 16; --quick: 2)', int)
    .option('--retrain-points <n>', 'steps per curve with retraining, the bulk of the run time (default: 10; --quick: 2)', int)
    .addOption(new Option('--protocol-criteria <list>', "criteria of the layer-retrain / once comparison, or 'best': the best non-random criterion of the retraining curves").argParser(words).default([D.protocolCriteria], D.protocolCriteria))
    .addOption(new Option('--parts <list>', 'what to run: none (no retraining), retrain (N compared), norm (normalisation with retraining), protocols (layer-retrain, once), table (Table 4.1)').argParser(words).default([...D.parts], D.parts.join(',')))
    .option('--score-batches <n>', 'batches a data-driven criterion (activation, taylor) reads per step (default: 10; --quick: 2)', int)
    .option('--curve-samples <n>', 'images of the validation split (stratified) every curve point is measured on; the floor uses the whole split (default: 1000; --quick: 100)', int)
    .option('--eval-batch-size <n>', 'batch size of evaluation', int, D.evalBatchSize)
    .option('--max-drop <pp>', 'Table 4.1: accuracy floor in percentage points under the base model on the validation split (default: 0.3; --quick: 5, one image of its 80 is 1.25 pp)', float)
    .option('--table-criterion <name>', 'Table 4.1: criterion of the best protocol (global ranking, l2 normalisation, retraining after each step)', D.tableCriterion)
    .option('--table-step-fraction <x>', 'Table 4.1: share of the still-removable maps removed per step (default: 0.05; --quick: 0.25)', float)
    .option('--table-patience <n>', 'Table 4.1: steps allowed below the floor before stopping; the smallest model that met the floor is kept (default: 2; --quick: 1)', int)
    .option('--no-table-backtrack', 'Table 4.1: stop at the floor instead of going back to the kept model and going on with half the step (down to one map)')
    .option('--table-max-steps <n>', 'Table 4.1: at most this many steps (default: 200; --quick: 3)', int)
    .option('--table-snap-to <n|auto>', "Table 4.1: after the loop, every convolution's maps down to its multiple of this in one retrained step, kept only if it meets the floor (auto: onnxruntime's convolution block, 16 with AVX-512, 8 with AVX2; 1: off) (default: auto)", channelMultiple)
    .option('--table-snap-iters <n>', 'Table 4.1: retraining iterations of the --table-snap-to step (default: 2000; --quick: 3)', int)
    .option('--table-snap-tries <n>', 'Table 4.1: grid steps tried at most, from the kept model, then from larger kept models that keep more in the other layers (default: 3)', int)
    .option('--table-refine-steps <n>', 'Table 4.1: then up to this many MAC refinement steps: the convolution whose channels cost the most MACs loses channels, --table-snap-iters retraining iterations, kept if it meets the floor (default: 6; --quick: 1; 0: off)', int)
    .option('--latency-runs <n>', 'Table 4.1: timed onnxruntime runs per model and batch size (default: 100; --quick: 3)', int)
    .option('--seed <n>', "random seed: initialisation, split, batch order, random criterion (default: 0, or the checkpoint's)", int)
    .option('--runs-dir <dir>', 'root of the run directories', D.runsDir)
    .option('--version <n>', 'resume study version N: its configuration, base model and finished curves are reused (default: start a new version)', int)
    .option('--dry-run', 'print the grid (curves, steps, retraining iterations) and the time estimate, then exit without training or pruning (default: off)')
    .option('--quick', 'CI mode: a quarter-width lenet5 on 5 % of the data, 2 steps per curve, 1/2/3 retraining iterations; checks the whole grid end to end in seconds (default: off)')
    .option('--json', 'print one JSON object summarising Table 4.1 on the last stdout line (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nAt the start it prints the grid (curves, steps, retraining iterations) and a time estimate; a progress bar with ETA follows the whole grid.' +
        '\nCtrl-C stops after the current step and writes the report of the finished curves (exit code 130); --version N resumes.' +
        '\n\nExamples:\n  slimnet study thesis --quick' +
        '\n  slimnet study thesis --dataset mnist-digits' +
        '\n  slimnet study thesis --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors --parts none,table' +
        '\n  slimnet study thesis --version 0',
    );
}
