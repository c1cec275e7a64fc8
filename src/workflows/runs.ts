// Listing runs as typed rows: every run under a runs directory (`slimnet
// runs`), and the versions of one training configuration (`slimnet train
// --show-versions`). The CLI renders them; a library user reads them.
import { Run, effectiveStatus, listRuns as runEntries, listVersions, readStatus, versionDir, type RunStatus, type RunStatusFile } from '../runs/index.js';

/** A run's status as displayed: 'killed' for a 'running' run whose process is gone, 'unknown' without status.json. */
export type DisplayStatus = RunStatus | 'killed' | 'unknown';

/** One run under a runs directory. */
export interface RunRow {
  /** The command that made it ('train', 'prune', 'slim', 'study-thesis', ...). */
  command: string;
  dataset: string;
  arch: string;
  version: number;
  /** Its directory. */
  path: string;
  status: DisplayStatus;
  /**
   * Completed epochs, and the epochs configured: training runs (train) and
   * slimming (every λ's epochs plus fine-tuning). null for commands whose
   * work is not counted in epochs (prune: steps; study: curves) and for a
   * directory without status.json.
   */
  epochsDone: number;
  epochs: number | null;
  /** Best accuracy on the validation split held out of the training data (training runs). */
  bestValAccuracy: number | null;
  /** Accuracy and balanced accuracy of the final weights on the test split. */
  testAccuracy: number | null;
  testBalancedAccuracy: number | null;
  /** Parameters and MACs per sample of its model. */
  params: number | null;
  macs: number | null;
  /** ISO time it was created. */
  created: string | null;
}

/** Every run under `root` (<command>/<dataset>-<arch>/version_N), sorted by command, configuration, version. */
export function listRuns(root: string): RunRow[] {
  return runEntries(root).map((r) => {
    const s = r.status;
    const cfg = r.config ?? {};
    return {
      command: r.command,
      dataset: (s?.dataset ?? cfg.dataset ?? r.configuration) as string,
      arch: (s?.arch ?? cfg.arch ?? '') as string,
      ...versionRow(r.version, r.path, s),
      testBalancedAccuracy: s?.test?.balancedAccuracy ?? null,
      params: s?.params ?? null,
      macs: s?.macs ?? null,
      created: s?.created ?? null,
    };
  });
}

/** One version of a training configuration: RunRow's keys for one version, and when it was last written. */
export interface TrainVersionRow extends VersionRow {
  /** ISO times it was created and last written. */
  created: string | null;
  updated: string | null;
}

/** The keys every row of one version has, read from its status.json. */
type VersionRow = Pick<RunRow, 'version' | 'path' | 'status' | 'epochsDone' | 'epochs' | 'bestValAccuracy' | 'testAccuracy'>;

/** One version's row from its status.json (undefined: none, 'unknown'); the callers add the rest in their key order (--json prints it). */
function versionRow(version: number, path: string, s: RunStatusFile | undefined): VersionRow {
  return {
    version,
    path,
    status: s ? effectiveStatus(s) : 'unknown',
    epochsDone: s?.epochsDone ?? 0,
    // Commands not counted in epochs record 0 (a training run has at least one).
    epochs: s && s.epochs > 0 ? s.epochs : null,
    bestValAccuracy: s?.bestValAccuracy ?? null,
    testAccuracy: s?.test?.accuracy ?? null,
  };
}

/** The versions of `slimnet train` runs of one dataset / arch under `root`, ascending; `dir` is the directory holding them. */
export function listTrainVersions(identity: { root: string; dataset: string; arch: string }): { dir: string; versions: TrainVersionRow[] } {
  const dir = Run.configurationDir({ ...identity, command: 'train' });
  const versions = listVersions(dir).map((v): TrainVersionRow => {
    const path = versionDir(dir, v);
    const s = readStatus(path);
    return { ...versionRow(v, path, s), created: s?.created ?? null, updated: s?.updated ?? null };
  });
  return { dir, versions };
}
