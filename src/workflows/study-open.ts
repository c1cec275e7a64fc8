// What the experiment studies (study distill, transtailor, replace) share
// about their run directories: reopening version N of a study for `--version`
// (only the flags that find it may be given, it must exist and not be running;
// its config.json and finished members are read), and finding a member's own
// run under the study's members/<key>/ directory.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES, Run, effectiveStatus, readStatus, versionDir, type RunIdentity } from '../runs/index.js';
import { UsageError } from '../util/errors.js';

export interface ReopenedStudy<Config, Member> {
  run: Run;
  config: Config;
  /** The finished members results.json holds (none before the first finished). */
  members: Member[];
  complete: boolean;
}

/**
 * Reopens study version `resume` of `id`. `given` are the spec fields that
 * were given besides those `resumeFields` allows (each a UsageError naming
 * its flag); `what` names the study in messages ('TransTailor study') and
 * `sameFlags` the flags that find it; `load` checks (and may complete) the
 * saved configuration.
 */
export function reopenStudy<Config, Member>(o: {
  resume: number;
  given: readonly string[];
  flagOf: (field: string) => string;
  id: RunIdentity;
  what: string;
  sameFlags: string;
  resultsFile: string;
  load: (saved: Config) => Config;
}): ReopenedStudy<Config, Member> {
  if (o.given.length) throw new UsageError(`--version resumes a study with its own configuration (config.json): drop ${o.given.map(o.flagOf).join(', ')}, or start a new study without --version`);
  if (!(Number.isInteger(o.resume) && o.resume >= 0)) throw new UsageError(`--version must be a study version (an integer >= 0), got ${o.resume}`);
  const path = versionDir(Run.configurationDir(o.id), o.resume);
  if (!existsSync(join(path, RUN_FILES.config))) throw new UsageError(`--version ${o.resume}: no ${o.what} version ${o.resume} in ${path} (give the same ${o.sameFlags} as the study)`);
  const prev = readStatus(path);
  if (prev && effectiveStatus(prev) === 'running') throw new UsageError(`--version ${o.resume}: study version ${o.resume} is being run by process ${prev.pid}`);
  const run = Run.open(o.id, o.resume);
  const config = o.load(run.config<Config>());
  const results = run.file(o.resultsFile);
  const members = existsSync(results) ? run.readJson<{ members: Member[] }>(o.resultsFile).members : [];
  return { run, config, members, complete: prev?.status === 'complete' };
}

/** The member's own run directory (version_0 of the first family under `dir/command`), or null before it started. */
export function memberRun(dir: string, command: string): string | null {
  const root = join(dir, command);
  if (!existsSync(root)) return null;
  for (const family of readdirSync(root)) {
    const v0 = versionDir(join(root, family), 0);
    if (existsSync(join(v0, RUN_FILES.config))) return v0;
  }
  return null;
}
