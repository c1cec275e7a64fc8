// What a seed-003 study run is asked to do (ThesisStudySpec) and the
// defaults that do not depend on --quick, the data set or a checkpoint.
// Kept free of engine code: the CLI's option declarations read it when the
// command is only registered.
//
// Field names follow the command's flags one to one (tableSnapTo is
// --table-snap-to); messages name them as flags.

export const THESIS_STUDY_DATASETS = ['mnist-digits', 'mnist', 'fashion-mnist'] as const;

/**
 * A study run. Undefined fields take their default, which for many depends
 * on `quick` (a CI-sized study) and on the data set or checkpoint; the
 * resolved values are written to the run's config.json.
 */
export interface ThesisStudySpec {
  /** Root of the run directories (default './runs'). */
  runsDir?: string;
  /**
   * Resume this version of the study: its configuration, base model and
   * finished curves are reused. Only runsDir, dataset, dryRun and invocation
   * may be given with it.
   */
  resume?: number;
  /** Print the grid and the time estimate, then stop: no run directory, no training. */
  dryRun?: boolean;
  /** The command line report.md names (default 'thesisStudyRun'). */
  invocation?: string;
  /** 28x28 grey images (default mnist-digits, or the checkpoint's). */
  dataset?: string;
  root?: string;
  /** Study this trained model instead of training a lenet5 base with the thesis recipe. */
  checkpoint?: string;
  /** Training iterations of the base and of Table 4.1's from-scratch model. */
  iterations?: number;
  batchSize?: number;
  /** Adam learning rate of training and retraining. */
  lr?: number;
  /** Width multiplier of a base trained here. */
  width?: number;
  fraction?: number;
  /** Held out of the training split for the floor and the curves: a count or a fraction. */
  validation?: number;
  criteria?: readonly string[];
  norms?: readonly string[];
  retrainIters?: readonly number[];
  points?: number;
  retrainPoints?: number;
  /** Criteria of the layer-retrain / once comparison, or 'best' (also ['best']). */
  protocolCriteria?: readonly string[] | 'best';
  parts?: readonly string[];
  scoreBatches?: number;
  curveSamples?: number;
  evalBatchSize?: number;
  /** Table 4.1's floor in percentage points under the base on the validation split. */
  maxDrop?: number;
  tableCriterion?: string;
  tableStepFraction?: number;
  tableMaxSteps?: number;
  tablePatience?: number;
  tableBacktrack?: boolean;
  /** The grid step's channel multiple (default: onnxruntime's block on this CPU). */
  tableSnapTo?: number;
  tableSnapIters?: number;
  tableSnapTries?: number;
  tableRefineSteps?: number;
  latencyRuns?: number;
  seed?: number;
  /** CI mode: a quarter-width lenet5 on 5 % of the data, 2 steps per curve, 1/2/3 retraining iterations. */
  quick?: boolean;
}

/** Defaults that hold whatever --quick, the data set or the checkpoint say. */
export const THESIS_STUDY_DEFAULTS = {
  runsDir: './runs',
  dataset: 'mnist-digits',
  criteria: ['l1', 'activation', 'taylor', 'random'] as readonly string[],
  norms: ['none', 'l1', 'l2'] as readonly string[],
  protocolCriteria: 'best' as const,
  parts: ['none', 'retrain', 'norm', 'protocols', 'table'] as readonly string[],
  evalBatchSize: 500,
  tableCriterion: 'taylor',
  tableBacktrack: true,
  tableSnapTries: 3,
} as const;

/** Spec fields a resumed study accepts: the rest would contradict its saved configuration. */
export const RESUME_FIELDS: ReadonlySet<keyof ThesisStudySpec> = new Set<keyof ThesisStudySpec>(['resume', 'runsDir', 'dataset', 'dryRun', 'invocation']);

/** 'tableSnapTo' -> '--table-snap-to'. */
export const flagOf = (field: string): string => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
