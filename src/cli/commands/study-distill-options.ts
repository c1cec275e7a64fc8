// The options of `slimnet study distill`. Kept apart from the command so that
// registering it loads no engine code. Every option is left undefined when
// not given: the workflow resolves the defaults (full or --quick) and writes
// them to config.json (--no-explain is the one flag commander defaults: its
// `explain: true` is dropped, so a resumed study does not see it as given).
import { InvalidArgumentError, Option, type Command } from 'commander';
import { number, words } from '../parse-args.js';
import { DISTILL_STUDY_DATASETS, DISTILL_STUDY_FULL as F, DISTILL_STUDY_QUICK as Q, type DistillStudySpec } from '../../workflows/study-distill-spec.js';

/** What commander hands over: the spec's fields as flags, plus --version (the spec's resume), --runs-dir and --json. */
export interface StudyDistillRawOptions extends Omit<DistillStudySpec, 'resume' | 'invocation' | 'runsDir'> {
  runsDir: string;
  version?: number;
  json?: boolean;
}

/** The workflow's spec from the options given (undefined ones take the workflow's defaults); `invocation` is the command line report.md shows. */
export function studyDistillSpecOf(o: StudyDistillRawOptions, invocation: string): DistillStudySpec {
  const { version, json: _json, ...rest } = o;
  const spec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined && !(k === 'explain' && v === true)) spec[k] = v;
  return { ...(spec as DistillStudySpec), ...(version !== undefined && { resume: version }), invocation };
}

function intList(v: string): number[] {
  const out = words(v).map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0)) throw new InvalidArgumentError(`expected comma-separated integers >= 0 like 0,1,2, got '${v}'`);
  return out;
}

const both = (full: unknown, quick: unknown): string => `default: ${String(full)}; --quick: ${String(quick)}`;

export function addStudyDistillOptions(cmd: Command): Command {
  const int = number('int');
  const float = number('float');
  return cmd
    .addOption(new Option('--dataset <name>', `data set (${both(F.dataset, Q.dataset)})`).choices(DISTILL_STUDY_DATASETS))
    .option('--root <dir>', "data folder (default: the data set's default folder)")
    .option('--teacher-arch <name>', `teacher: a zoo architecture (${both(F.teacherArch, Q.teacherArch)})`)
    .option('--teacher-width <x>', `teacher width multiplier (${both(F.teacherWidth, Q.teacherWidth)})`, float)
    .option('--student-arch <name>', `student: a zoo architecture (default: the teacher's)`)
    .option('--student-width <x>', `student width multiplier (default: half the teacher's: ${F.studentWidth}; --quick: ${Q.studentWidth})`, float)
    .option('--seeds <list>', `seeds; each gets a teacher, a scratch student and one distilled student per loss (${both(F.seeds.join(','), Q.seeds.join(','))})`, intList)
    .option('--losses <list>', `distillation losses compared: kd, logits, hint, at, sp, dkd (${both(F.losses.join(','), Q.losses.join(','))})`, words)
    .option('--epochs <n>', `training epochs of every member (${both(F.epochs, Q.epochs)})`, int)
    .option('--fraction <x>', `stratified share of the training split (${both(F.fraction, Q.fraction)})`, float)
    .option('--batch-size <n>', `training batch size (${both(F.batchSize, Q.batchSize)})`, int)
    .option('--lr <x>', `SGD learning rate of every member; the rest of the seed002 recipe is kept (${both(F.lr, Q.lr)}: seed 002's 0.5 diverges at these sizes, see report.md)`, float)
    .option('--no-explain', "skip the explanation (default: once every member has finished, `slimnet explain` of one seed's teacher and students into explain/, summarised in report.md; with --version: skip it in this call)")
    .option('--explain-seed <n>', "the study seed whose teacher and students are explained (default: the first seed)", int)
    .option('--explain-images <n>', `test images explained, each for its true label (${both(F.explainImages, Q.explainImages)})`, int)
    .option('--explain-methods <list>', `explanation methods (see slimnet explain --help) (${both(F.explainMethods.join(','), Q.explainMethods.join(','))})`, words)
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--version <n>', 'resume study version N: finished members are read, an interrupted one resumes its own run (default: start a new version)', int)
    .option('--quick', 'CI mode: lenet5 x0.5 -> x0.25 on 10 % of the bundled digits, 3 epochs, seeds 0,1, losses kd,at; well under a minute (default: off)')
    .option('--json', 'print one JSON object with the table on the last stdout line (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step: the finished members are kept and reported (exit code 130); --version N resumes (the interrupted member resumes its own run).' +
        '\n\nExamples:\n  slimnet study distill --quick' +
        '\n  slimnet study distill' +
        '\n  slimnet study distill --seeds 0,1,2,3,4 --losses kd,dkd --epochs 20' +
        '\n  slimnet study distill --version 0',
    );
}
