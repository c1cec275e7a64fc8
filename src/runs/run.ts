// A run: one version directory and everything a command writes into it.
// Every workflow opens (or resumes) a Run and goes through it for the
// configuration, the status, the log, metrics rows, CSV / JSON results and
// checkpoints' paths, so every run directory has the same shape and the same
// status semantics (see index.ts for the files).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { atomicWriteFile } from '../util/atomic-write.js';
import {
  RUN_FILES,
  RunLog,
  appendJsonl,
  appendMetrics,
  configurationDir,
  createVersionDir,
  effectiveStatus,
  listVersions,
  readJson,
  readMetrics,
  readStatus,
  truncateMetrics,
  versionDir,
  writeJson,
  type MetricsRow,
  type RunStatus,
  type RunStatusFile,
} from './files.js';

export interface RunIdentity {
  /** Root of the run directories ('./runs'). */
  root: string;
  /** The command (or workflow) that owns the run: 'train', 'prune', 'slim', 'study-thesis'. */
  command: string;
  dataset: string;
  arch: string;
}

const nowIso = (): string => new Date().toISOString();

/** CSV text of rows under headers (values JSON-quoted when they hold a comma or a quote). */
export function toCsv(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '';
    const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [headers.join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

export class Run {
  readonly log: RunLog;
  private statusFile: RunStatusFile;

  private constructor(
    readonly id: RunIdentity,
    readonly version: number,
    readonly path: string,
    status: RunStatusFile,
  ) {
    this.log = new RunLog(join(path, RUN_FILES.log));
    this.statusFile = status;
  }

  /** The directory holding every version of this identity. */
  static configurationDir(id: RunIdentity): string {
    return configurationDir(id.root, id.command, id.dataset, id.arch);
  }

  /** Creates the next version directory, writes config.json and a 'running' status. */
  static create(id: RunIdentity, config: unknown, status: Partial<RunStatusFile> = {}): Run {
    const { version, path } = createVersionDir(Run.configurationDir(id));
    writeJson(join(path, RUN_FILES.config), config);
    const now = nowIso();
    const run = new Run(id, version, path, {
      status: 'running',
      command: id.command,
      dataset: id.dataset,
      arch: id.arch,
      version,
      epochsDone: 0,
      epochs: 0,
      bestValAccuracy: null,
      bestEpoch: null,
      created: now,
      updated: now,
      pid: process.pid,
      ...status,
    });
    run.writeStatus();
    return run;
  }

  /** Opens an existing version (to resume it); a missing one is a UsageError that lists the versions there are. */
  static open(id: RunIdentity, version: number): Run {
    const cdir = Run.configurationDir(id);
    const path = versionDir(cdir, version);
    if (!existsSync(join(path, RUN_FILES.config))) {
      const have = listVersions(cdir);
      throw new UsageError(`no run version ${version} in ${cdir}${have.length ? ` (versions: ${have.join(', ')})` : ' (no runs yet)'}`);
    }
    const s = readStatus(path);
    const now = nowIso();
    return new Run(id, version, path, s ?? { status: 'interrupted', command: id.command, dataset: id.dataset, arch: id.arch, version, epochsDone: 0, epochs: 0, bestValAccuracy: null, bestEpoch: null, created: now, updated: now });
  }

  /** The path of a file in the run directory. */
  file(name: string): string {
    return join(this.path, name);
  }

  /** config.json as written at creation. */
  config<T>(): T {
    return readJson<T>(this.file(RUN_FILES.config));
  }

  get status(): Readonly<RunStatusFile> {
    return this.statusFile;
  }

  /** The status to display ('killed' for a 'running' run whose process is gone). */
  get effectiveStatus(): RunStatus | 'killed' {
    return effectiveStatus(this.statusFile);
  }

  /** Merges `patch` into status.json (atomically) and stamps `updated`. */
  update(patch: Partial<RunStatusFile> & Record<string, unknown>): void {
    this.statusFile = { ...this.statusFile, ...patch, updated: nowIso() };
    this.writeStatus();
  }

  /** Marks the run running in this process (a resume). */
  start(patch: Partial<RunStatusFile> = {}): void {
    this.update({ status: 'running', pid: process.pid, message: undefined, ...patch });
  }

  complete(patch: Partial<RunStatusFile> & Record<string, unknown> = {}): void {
    this.update({ ...patch, status: 'complete', pid: undefined });
  }

  interrupt(patch: Partial<RunStatusFile> & Record<string, unknown> = {}): void {
    this.update({ ...patch, status: 'interrupted', pid: undefined });
  }

  fail(error: unknown, patch: Partial<RunStatusFile> & Record<string, unknown> = {}): void {
    this.update({ ...patch, status: 'failed', pid: undefined, message: error instanceof Error ? error.message : String(error) });
  }

  /** Appends a line to run.log. */
  say(line: string): void {
    this.log.write(line);
  }

  appendMetrics(rows: readonly MetricsRow[]): void {
    appendMetrics(this.path, rows);
  }

  /** Appends one JSON line per record to `<name>` (steps.jsonl, ...); returns its path. */
  appendJsonl(name: string, ...records: unknown[]): string {
    const p = this.file(name);
    appendJsonl(p, records);
    return p;
  }

  readMetrics(): MetricsRow[] {
    return readMetrics(this.path);
  }

  /** Drops metrics rows past `epochs` (written after the state being resumed). */
  truncateMetrics(epochs: number): void {
    truncateMetrics(this.path, epochs);
  }

  /** Writes `<name>` as pretty JSON, atomically; returns its path. */
  writeJson(name: string, value: unknown): string {
    const p = this.file(name);
    writeJson(p, value);
    return p;
  }

  readJson<T>(name: string): T {
    return readJson<T>(this.file(name));
  }

  /** Writes `<name>` as CSV (headers, then one line per row), atomically; returns its path. */
  writeCsv(name: string, headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
    const p = this.file(name);
    atomicWriteFile(p, new TextEncoder().encode(toCsv(headers, rows)));
    return p;
  }

  /** Writes a text file atomically; returns its path. */
  writeText(name: string, text: string): string {
    const p = this.file(name);
    atomicWriteFile(p, new TextEncoder().encode(text));
    return p;
  }

  private writeStatus(): void {
    writeJson(this.file(RUN_FILES.status), this.statusFile);
  }
}
