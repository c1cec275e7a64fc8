// The flags of `slimnet train`, generated from the training spec's option
// list (workflows/train-spec.ts: names, kinds, defaults, help), and config
// files (JSON / YAML, camelCase or kebab-case keys). Precedence: command-line
// flag > config file > default; the defaults themselves (some derived from
// other options) are the spec's, resolved by the workflow.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../../util/errors.js';
import { number } from '../parse-args.js';
import { addNprocOption } from '../nproc-option.js';
import { TRAIN_OPTIONS, flagOf, parseFlagValue, parseOptionValue, trainConfigKeys, trainOption, type TrainConfig } from '../../workflows/train-spec.js';

/** The flags that are not part of a run's configuration. */
export interface TrainMetaOptions {
  config?: string;
  runsDir: string;
  showVersions?: boolean;
  version?: number;
  json?: boolean;
  exportOnnx?: string | boolean;
  nproc?: number;
}

/** Registers the run options on the train command (and, without --arch, on distill: its student is --student). */
export function addTrainOptions(cmd: Command, only: { exclude?: readonly (keyof TrainConfig)[] } = {}): Command {
  for (const s of TRAIN_OPTIONS) {
    if (only.exclude?.includes(s.key)) continue;
    const o = new Option(s.arg ? `${flagOf(s.key)} ${s.arg}` : flagOf(s.key), s.desc);
    if (s.choices) o.choices(s.choices);
    // A bad value is a UsageError naming the flag and the text: the CLI prints it as one line.
    if (s.kind !== 'bool' && s.kind !== 'string') o.argParser((v: string) => parseFlagValue(s, v));
    if (s.derive || s.defaultText !== undefined) o.description = `${s.desc} (default: ${s.defaultText})`;
    else o.default(s.def, Array.isArray(s.def) ? s.def.join(',') : String(s.def));
    cmd.addOption(o);
  }
  return cmd;
}

/** Reads a JSON or YAML config file into { camelCaseKey: value }, rejecting unknown keys. */
export function readConfigFile(path: string): Partial<TrainConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  const ext = extname(path).toLowerCase();
  try {
    raw = ext === '.json' ? JSON.parse(text) : parseYaml(text); // YAML is a superset of JSON
  } catch (e) {
    throw new UsageError(`config file ${path} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`config file ${path} must hold a mapping of option names to values`);
  const out: Partial<Record<keyof TrainConfig, unknown>> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const s = trainOption(k);
    if (!s) throw new UsageError(`config file ${path}: unknown option '${k}' (known: ${trainConfigKeys().map((x) => flagOf(x).slice(2)).join(', ')})`);
    out[s.key] = parseOptionValue(s, v, `config file ${path}`);
  }
  return out as Partial<TrainConfig>;
}

/** The options given on the command line (over those of the config file): what the spec passes on; the rest take the spec's defaults. */
export function givenTrainOptions(cmd: Command, fileValues: Partial<TrainConfig>): Partial<TrainConfig> {
  const opts = cmd.opts<Record<string, unknown>>();
  const out: Partial<Record<keyof TrainConfig, unknown>> = { ...fileValues };
  for (const s of TRAIN_OPTIONS) if (cmd.getOptionValueSource(s.key) === 'cli') out[s.key] = opts[s.key];
  return out as Partial<TrainConfig>;
}

/** Every flag and the help text of `slimnet train`: the run options, then the flags that are not part of a run's configuration. */
export function addTrainCommandOptions(cmd: Command): Command {
  addTrainOptions(cmd)
    .option('--config <file>', 'read options from a JSON or YAML file (keys like batchSize or batch-size); command-line flags override it (default: none)')
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--show-versions', 'list the runs of this command/dataset/arch (version, epochs done, best validation accuracy, status, date) and exit (default: off)')
    .option('--version <n>', 'resume run version N exactly where it stopped (weights, optimizer, schedule, epoch, RNG), with its own configuration; with a larger --epochs, extend it (also a complete run) to that many epochs in all (default: start a new version)', number('int'))
    .option('--export-onnx [path]', 'also write the final model as ONNX, checked in onnxruntime (default path: model.onnx in the run directory)')
    .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)');
  return addNprocOption(cmd)
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step, saves a resumable state and prints the --version command that resumes it (exit code 130).' +
        '\nSIGTERM (docker stop, Slurm, timeout) does the same (exit code 143), and so does a closed output pipe (| head: exit code 141).' +
        '\nA NaN / infinite loss stops training with exit code 1 and keeps the last good checkpoint.' +
        '\nExtending: --version N --epochs M (M above the configured epochs) trains run N on to M epochs; a cosine schedule is re-planned over the M epochs' +
        ' (the next epochs follow the longer cosine from where the run stands), step / multistep / exponential / constant schedules go on as configured;' +
        ' config.json gets the new epochs and status.json records the extension. A run that early stopping ended is not extended.' +
        '\nThe training batch must fit in memory: a batch whose estimate (every layer\'s activations per sample, plus weights, gradients and optimizer state) exceeds the memory available is refused before anything is allocated.' +
        '\nA validation split smaller than the number of classes is refused (its accuracy would mean nothing).' +
        '\n\nExamples:\n  slimnet train --dataset fashion-mnist --arch lenet5 --epochs 10\n  slimnet train --dataset mnist-digits --fraction 0.1 --epochs 1\n  slimnet train --config recipe.yaml --lr 3e-4\n  slimnet train --dataset fashion-mnist --arch lenet5 --show-versions\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2 --epochs 15' +
        '\n  slimnet train --dataset fashion-mnist --classes Sandal,Sneaker,"Ankle boot" --epochs 5' +
        '\n  slimnet train --optimizer sgd --momentum 0.9 --lr 0.0005 --lr-by-kind linear=0.005,conv=0.0005 --early-stopping-monitor val.balancedAccuracy --early-stopping-patience 3',
    );
}
