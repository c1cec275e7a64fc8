// Listing runs as typed rows: every run under a runs directory (`slimnet
// runs`), and the versions of one training configuration (`slimnet train
// --show-versions`). The CLI renders them; a library user reads them.
import { Run, effectiveStatus, listRuns as runEntries, listVersions, readStatus, versionDir, type RunStatus } from '../runs/index.js';

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
      version: r.version,
      path: r.path,
      status: s ? effectiveStatus(s) : 'unknown',
      epochsDone: s?.epochsDone ?? 0,
      epochs: s && s.epochs > 0 ? s.epochs : null,
      bestValAccuracy: s?.bestValAccuracy ?? null,
      testAccuracy: s?.test?.accuracy ?? null,
      testBalancedAccuracy: s?.test?.balancedAccuracy ?? null,
      params: s?.params ?? null,
      macs: s?.macs ?? null,
      created: s?.created ?? null,
    };
  });
}

/** One version of a training configuration. */
export interface TrainVersionRow {
  version: number;
  path: string;
  status: DisplayStatus;
  epochsDone: number;
  epochs: number | null;
  /** Best validation accuracy (validation split held out of the training data). */
  bestValAccuracy: number | null;
  /** Accuracy of the final weights on the test split. */
  testAccuracy: number | null;
  /** ISO times it was created and last written. */
  created: string | null;
  updated: string | null;
}

/** The versions of `slimnet train` runs of one dataset / arch under `root`, ascending; `dir` is the directory holding them. */
export function listTrainVersions(identity: { root: string; dataset: string; arch: string }): { dir: string; versions: TrainVersionRow[] } {
  const dir = Run.configurationDir({ ...identity, command: 'train' });
  const versions = listVersions(dir).map((v): TrainVersionRow => {
    const path = versionDir(dir, v);
    const s = readStatus(path);
    return {
      version: v,
      path,
      status: s ? effectiveStatus(s) : 'unknown',
      epochsDone: s?.epochsDone ?? 0,
      epochs: s?.epochs ?? null,
      bestValAccuracy: s?.bestValAccuracy ?? null,
      testAccuracy: s?.test?.accuracy ?? null,
      created: s?.created ?? null,
      updated: s?.updated ?? null,
    };
  });
  return { dir, versions };
}
