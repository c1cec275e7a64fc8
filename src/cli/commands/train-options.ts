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
import { TRAIN_OPTIONS, flagOf, parseFlagValue, parseOptionValue, trainConfigKeys, trainOption, type TrainConfig } from '../../workflows/train-spec.js';

/** The flags that are not part of a run's configuration. */
export interface TrainMetaOptions {
  config?: string;
  runsDir: string;
  showVersions?: boolean;
  version?: number;
  json?: boolean;
  exportOnnx?: string | boolean;
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
