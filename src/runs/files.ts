// Versioned run directories: the files.
//
//   <root>/<command>/<dataset>-<arch>/version_<N>/
//     config.json        the resolved configuration (every option, final value)
//     status.json        status (running / complete / interrupted / failed), progress, best metric, results
//     metrics.csv        one row per completed epoch
//     metrics.jsonl      the same rows as JSON lines
//     best.safetensors   checkpoint of the best validation epoch (src/graph/checkpoint.ts)
//     last.safetensors   checkpoint of the last completed epoch (or of the interruption point)
//     state.safetensors  trainer state for an exact resume (src/train/state-file.ts)
//     run.log            what the command printed
//
// Every JSON / checkpoint file is written atomically (write a temporary file,
// fsync, rename), so an interrupted run never leaves a half-written file.
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../util/atomic-write.js';
import { ensureDir } from '../util/ensure-dir.js';
import { FileSystemError, errnoCode, fsError } from '../util/fs-errors.js';
import { SlimnetError } from '../util/errors.js';

/** A run file that is not what slimnet wrote (damaged, truncated, edited by hand): the message names the file. */
export class RunFileError extends SlimnetError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** Node's appendFileSync with a failure (full disk, read-only file system) as a FileSystemError naming the file. */
function append(path: string, text: string): void {
  try {
    appendFileSync(path, text);
  } catch (e) {
    throw fsError(path, 'cannot write', e);
  }
}

/** The text of a run file; a failure to read it names the file. */
function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw fsError(path, 'cannot read', e);
  }
}

export const RUN_FILES = {
  config: 'config.json',
  status: 'status.json',
  metricsCsv: 'metrics.csv',
  metricsJsonl: 'metrics.jsonl',
  best: 'best.safetensors',
  last: 'last.safetensors',
  state: 'state.safetensors',
  log: 'run.log',
} as const;

export type RunStatus = 'running' | 'complete' | 'interrupted' | 'failed';

export interface RunStatusFile {
  status: RunStatus;
  command: string;
  dataset: string;
  arch: string;
  version: number;
  /** Completed epochs, and the epochs the run is configured for. */
  epochsDone: number;
  epochs: number;
  /** Best validation accuracy so far and its 1-based epoch (null without validation). */
  bestValAccuracy: number | null;
  bestEpoch: number | null;
  params?: number;
  macs?: number;
  /** Results on the test split, once evaluated. */
  test?: { accuracy: number; balancedAccuracy: number; loss: number; count: number };
  /** Why the run stopped early / failed. */
  message?: string;
  /** Times a resume raised the epochs (`train --version N --epochs M`), oldest first. */
  extensions?: RunExtension[];
  pid?: number;
  created: string;
  updated: string;
}

/** A resume that extended a training run to more epochs. */
export interface RunExtension {
  /** The epochs configured before, and after. */
  fromEpochs: number;
  toEpochs: number;
  /** Completed epochs when it was extended. */
  atEpoch: number;
  /** ISO time of the extension. */
  date: string;
}

/** One metrics row (one completed epoch). */
export interface MetricsRow {
  /** 1-based epoch number. */
  epoch: number;
  lr: number;
  train_loss: number;
  train_acc: number;
  val_loss: number | null;
  val_acc: number | null;
  val_balanced_acc: number | null;
  seconds: number;
}

export const METRICS_COLUMNS: readonly (keyof MetricsRow)[] = ['epoch', 'lr', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'val_balanced_acc', 'seconds'];

/** A path component from a free-form name ('folder:/data/x' -> 'folder_data_x'). */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'unnamed';
}

/** The directory holding every version of one configuration: <root>/<command>/<dataset>-<arch>. */
export function configurationDir(root: string, command: string, dataset: string, arch: string): string {
  return join(root, safeName(command), `${safeName(dataset)}-${safeName(arch)}`);
}

export function versionDir(dir: string, version: number): string {
  return join(dir, `version_${version}`);
}

/** The version numbers present in a configuration directory, ascending (none if it does not exist). */
export function listVersions(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw fsError(dir, 'cannot list the run versions in it', e);
  }
  for (const name of names) {
    const m = /^version_(\d+)$/.exec(name);
    if (m && statSync(join(dir, name)).isDirectory()) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** One more than the largest existing version (0 for a new configuration). */
export function nextVersion(dir: string): number {
  const v = listVersions(dir);
  return v.length ? v[v.length - 1]! + 1 : 0;
}

/**
 * Creates the next version directory. mkdir without `recursive` fails if the
 * directory exists, so two processes starting at once get distinct versions.
 * The parents are created by ensureDir (no recursive mkdir: it loops forever
 * on /proc and misreports a read-only file system as ENOENT).
 */
export function createVersionDir(dir: string): { version: number; path: string } {
  ensureDir(dir);
  for (let attempt = 0; attempt < 100; attempt++) {
    const version = nextVersion(dir);
    const path = versionDir(dir, version);
    try {
      mkdirSync(path);
      return { version, path };
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw fsError(path, 'cannot create the run directory', e);
    }
  }
  throw new FileSystemError(dir, 'cannot create a new version directory: 100 attempts collided with other processes');
}

export function writeJson(path: string, value: unknown): void {
  atomicWriteFile(path, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
}

/** A JSON file of a run; unreadable or invalid JSON is an error naming the file. */
export function readJson<T>(path: string): T {
  const text = readText(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new RunFileError(path, `not valid JSON (${(e as Error).message}): the file is damaged or was edited by hand`, { cause: e });
  }
}

export function readStatus(runPath: string): RunStatusFile | undefined {
  const p = join(runPath, RUN_FILES.status);
  if (!existsSync(p)) return undefined;
  try {
    return readJson<RunStatusFile>(p);
  } catch {
    return undefined;
  }
}

/** Whether a process with this id is alive (a 'running' run whose process died was killed hard). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The status to display: a 'running' run whose process is gone was killed without saving ('killed'). */
export function effectiveStatus(s: RunStatusFile): RunStatus | 'killed' {
  return s.status === 'running' && !alive(s.pid) ? 'killed' : s.status;
}

function cell(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? '' : String(v);
}

/** Appends metrics rows to metrics.csv (with a header when new) and metrics.jsonl. */
export function appendMetrics(runPath: string, rows: readonly MetricsRow[]): void {
  if (!rows.length) return;
  const csv = join(runPath, RUN_FILES.metricsCsv);
  const header = existsSync(csv) ? '' : `${METRICS_COLUMNS.join(',')}\n`;
  append(csv, header + rows.map((r) => METRICS_COLUMNS.map((c) => cell(r[c])).join(',')).join('\n') + '\n');
  appendJsonl(join(runPath, RUN_FILES.metricsJsonl), rows);
}

/** Appends one JSON line per record to `path` (nothing for none); a failed write is a FileSystemError naming the file. */
export function appendJsonl(path: string, records: readonly unknown[]): void {
  if (records.length) append(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** The rows of metrics.jsonl (empty if none). */
export function readMetrics(runPath: string): MetricsRow[] {
  const p = join(runPath, RUN_FILES.metricsJsonl);
  if (!existsSync(p)) return [];
  return readText(p)
    .split('\n')
    .map((l, i) => [l, i + 1] as const)
    .filter(([l]) => l.trim())
    .map(([l, n]) => {
      try {
        return JSON.parse(l) as MetricsRow;
      } catch (e) {
        throw new RunFileError(p, `line ${n} is not valid JSON (${(e as Error).message}): the file is damaged or was edited by hand`, { cause: e });
      }
    });
}

/** Keeps only the first `epochs` rows of the metrics files (drops rows written after the state that is resumed). */
export function truncateMetrics(runPath: string, epochs: number): void {
  const rows = readMetrics(runPath);
  if (rows.length <= epochs) return;
  const keep = rows.filter((r) => r.epoch <= epochs);
  const csv = join(runPath, RUN_FILES.metricsCsv);
  atomicWriteFile(csv, new TextEncoder().encode(`${METRICS_COLUMNS.join(',')}\n` + keep.map((r) => METRICS_COLUMNS.map((c) => cell(r[c])).join(',') + '\n').join('')));
  atomicWriteFile(join(runPath, RUN_FILES.metricsJsonl), new TextEncoder().encode(keep.map((r) => JSON.stringify(r) + '\n').join('')));
}

/** A log that appends to run.log (plain text, no terminal escapes). */
export class RunLog {
  constructor(readonly path: string) {}
  write(text: string): void {
    append(this.path, text.endsWith('\n') ? text : `${text}\n`);
  }
}

export interface RunEntry {
  command: string;
  /** The <dataset>-<arch> directory name. */
  configuration: string;
  version: number;
  path: string;
  status: RunStatusFile | undefined;
  config: Record<string, unknown> | undefined;
}

/** Every version directory under `root` (<command>/<configuration>/version_N), sorted. */
export function listRuns(root: string): RunEntry[] {
  const out: RunEntry[] = [];
  if (!existsSync(root)) return out;
  if (!statSync(root).isDirectory()) throw new FileSystemError(root, 'is a file, not a runs directory', 'ENOTDIR');
  const dirs = (p: string): string[] => {
    try {
      return readdirSync(p)
        .filter((n) => statSync(join(p, n)).isDirectory())
        .sort();
    } catch (e) {
      throw fsError(p, 'cannot list the runs in it', e);
    }
  };
  for (const command of dirs(root)) {
    for (const configuration of dirs(join(root, command))) {
      const cdir = join(root, command, configuration);
      for (const version of listVersions(cdir)) {
        const path = versionDir(cdir, version);
        const cfgPath = join(path, RUN_FILES.config);
        let config: Record<string, unknown> | undefined;
        try {
          config = existsSync(cfgPath) ? readJson<Record<string, unknown>>(cfgPath) : undefined;
        } catch {
          config = undefined;
        }
        out.push({ command, configuration, version, path, status: readStatus(path), config });
      }
    }
  }
  return out;
}
