// What a seed-002 distillation study is asked to do (DistillStudySpec), its
// defaults (full and --quick) and the checks that name the flags. Free of
// engine code: the CLI's option declarations read it when the command is only
// registered (architecture and loss names are checked by the workflow).
//
// Sizing of the full study (measured 2026-12, this 2-core machine, 2 threads,
// other jobs sharing the CPU; `slimnet train --recipe seed002 --fraction 0.02
// --epochs 1`): resnet20 (31 M MACs on 28x28 grey) trains at about 500
// images/s, resnet20 at width 0.5 (7.8 M MACs) at about 900 images/s; a
// distillation step adds the teacher's forward (about a third of its training
// step), so a distilled student runs at about 560 images/s. With 13,500
// training images (fraction 0.25 of Fashion-MNIST's 54,000 after the tenth
// held out) and 10 epochs (135,000 images per member): teacher 270 s, student
// from scratch 150 s, five distilled students 5 x 240 s, plus about 150 s of
// validation and test passes (10,000 test images, the teacher re-read for the
// agreement) per seed: about 30 min per seed, 1 h 30 min for three seeds,
// under two hours with the feature losses' extra cost. The learning rate:
// seed 002's 0.5 made the resnet20 teacher diverge at batch 128 (at fraction
// 0.05, 4 epochs: the training loss rose from 1.82 to 3.08 in the first
// epoch at full lr and validation accuracy fell to 10 %); 0.1, the usual
// CIFAR ResNet rate at batch 128, trains (validation 21 → 67 % over the same
// 4 epochs), so the study uses 0.1 with the rest of the recipe unchanged.

import { UsageError } from '../util/errors.js';

export const DISTILL_STUDY_DATASETS = ['fashion-mnist', 'mnist-digits', 'mnist', 'cifar10'] as const;

/** A distillation study. Undefined fields take their default (DISTILL_STUDY_FULL, or DISTILL_STUDY_QUICK with `quick`). */
export interface DistillStudySpec {
  /** Root of the run directories (default './runs'). */
  runsDir?: string;
  /** Resume this version of the study (finished members are read, an interrupted one resumes its own run); only runsDir, dataset, teacherArch, quick and invocation may be given with it. */
  resume?: number;
  /** The command line report.md names (default 'distillStudyRun'). */
  invocation?: string;
  /** CI mode: a tiny study (see DISTILL_STUDY_QUICK). */
  quick?: boolean;
  dataset?: string;
  root?: string;
  /** The teacher: a zoo architecture at a width multiplier. */
  teacherArch?: string;
  teacherWidth?: number;
  /** The student: a zoo architecture at a width multiplier (default: the teacher's at half the width). */
  studentArch?: string;
  studentWidth?: number;
  /** One teacher, one scratch student and one distilled student per loss for each seed. */
  seeds?: readonly number[];
  /** The distillation losses compared, one distilled student each (src/distill registry names). */
  losses?: readonly string[];
  /** Training epochs of every member. */
  epochs?: number;
  /** Stratified share of the training split. */
  fraction?: number;
  batchSize?: number;
  /** SGD learning rate of every member (the seed002 recipe's other values are kept). */
  lr?: number;
  /** Explain the members of one seed once they are all finished (default true); `false` with resume skips the explanation in that call. */
  explain?: boolean;
  /** The study seed whose teacher and students are explained (default: the first seed). */
  explainSeed?: number;
  /** Test images explained (the first N of the test split). */
  explainImages?: number;
  /** Explanation methods by registry name (src/explain). */
  explainMethods?: readonly string[];
}

/** config.json of a study: every value resolved. */
export interface DistillStudyConfig {
  quick: boolean;
  dataset: string;
  root: string | null;
  teacherArch: string;
  teacherWidth: number;
  studentArch: string;
  studentWidth: number;
  seeds: number[];
  losses: string[];
  epochs: number;
  fraction: number;
  batchSize: number;
  lr: number;
  /** Every member trains with this recipe (baselines with label smoothing 0.1, distillation without). */
  recipe: 'seed002';
  /** Why lr is not the recipe's 0.5 (null when it is). */
  lrNote: string | null;
  /** How the default sizes were chosen (measured speeds and the time estimate). */
  sizing: string;
  /** Whether the members of explainSeed are explained (`slimnet explain` into explain/) once every member has finished. */
  explain: boolean;
  /** The study seed whose teacher (best.safetensors) and students (final weights) are explained. */
  explainSeed: number;
  /** The first N test images are explained, each for its true label (the same class for every model). */
  explainImages: number;
  explainMethods: string[];
}

type Sizes = Omit<DistillStudyConfig, 'quick' | 'root' | 'recipe' | 'lrNote' | 'sizing' | 'explain' | 'explainSeed'>;

/** The full study: seed 002's table on Fashion-MNIST in about two hours here (see the sizing note above). */
export const DISTILL_STUDY_FULL: Sizes = {
  dataset: 'fashion-mnist',
  teacherArch: 'resnet20',
  teacherWidth: 1,
  studentArch: 'resnet20',
  studentWidth: 0.5,
  seeds: [0, 1, 2],
  losses: ['kd', 'at', 'sp', 'hint', 'dkd'],
  epochs: 10,
  fraction: 0.25,
  batchSize: 128,
  lr: 0.1,
  explainImages: 8,
  explainMethods: ['gradcam', 'ig'],
};

/** --quick: the whole study end to end in well under a minute (lenet5 at widths 0.5 / 0.25 on 10 % of the bundled digits, three epochs, two seeds: about 25 s with one thread). */
export const DISTILL_STUDY_QUICK: Sizes = {
  dataset: 'mnist-digits',
  teacherArch: 'lenet5',
  teacherWidth: 0.5,
  studentArch: 'lenet5',
  studentWidth: 0.25,
  seeds: [0, 1],
  losses: ['kd', 'at'],
  epochs: 3,
  fraction: 0.1,
  batchSize: 32,
  lr: 0.05,
  explainImages: 2,
  explainMethods: ['gradcam', 'ig'],
};

const RECIPE_LR = 0.5;

const LR_NOTES: Record<'full' | 'quick', string> = {
  full: "seed 002's lr 0.5 made the resnet20 teacher diverge at batch 128 (training loss 1.82 → 3.08 in the first epoch at full lr, validation accuracy 10 %); 0.1, the usual CIFAR ResNet rate at batch 128, trains",
  quick: 'lenet5 has no BatchNorm and a 3-epoch run has one warm-up epoch: lr 0.5 would reach full rate on a network without normalisation after one epoch; 0.05 trains (teacher ~86 % test accuracy in 3 epochs)',
};

const SIZING = {
  full: 'measured here (2 threads, shared CPU): resnet20 trains at ~500 images/s, resnet20 x0.5 at ~900, a distilled student (teacher forward added) at ~560; 13,500 training images x 10 epochs per member: about 30 min per seed, ~1 h 30 min for 3 seeds (under 2 h with the feature losses)',
  quick: 'CI size: 10 % of the bundled digits (720 training images), 3 epochs, two seeds: about 2 s per member, 25 s in all with one thread',
};

/** Spec fields a resumed study accepts: they find the study (explain: false skips the explanation in that call); the rest would contradict its config.json. */
export const DISTILL_RESUME_FIELDS: ReadonlySet<keyof DistillStudySpec> = new Set<keyof DistillStudySpec>(['resume', 'runsDir', 'dataset', 'teacherArch', 'quick', 'invocation', 'explain']);

/** 'teacherArch' -> '--teacher-arch'. */
export const flagOf = (field: string): string => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The defaults a spec starts from. */
export const studyDefaults = (quick: boolean | undefined): Sizes => (quick ? DISTILL_STUDY_QUICK : DISTILL_STUDY_FULL);

/**
 * The resolved configuration of a new study: the given fields over the
 * defaults (a student defaults to the teacher's architecture at half its
 * width), checked. Every problem is a UsageError naming its flag.
 */
export function resolveDistillStudy(spec: DistillStudySpec): DistillStudyConfig {
  const quick = spec.quick === true;
  const d = studyDefaults(quick);
  const teacherArch = spec.teacherArch ?? d.teacherArch;
  const teacherWidth = spec.teacherWidth ?? d.teacherWidth;
  const teacherGiven = spec.teacherArch !== undefined || spec.teacherWidth !== undefined;
  const studentArch = spec.studentArch ?? (spec.teacherArch !== undefined ? teacherArch : d.studentArch);
  const studentWidth = spec.studentWidth ?? (teacherGiven ? teacherWidth / 2 : d.studentWidth);
  const lr = spec.lr ?? d.lr;
  const c: DistillStudyConfig = {
    quick,
    dataset: spec.dataset ?? d.dataset,
    root: spec.root ?? null,
    teacherArch,
    teacherWidth,
    studentArch,
    studentWidth,
    seeds: [...(spec.seeds ?? d.seeds)],
    losses: [...(spec.losses ?? d.losses)].map((l) => l.trim()),
    epochs: spec.epochs ?? d.epochs,
    fraction: spec.fraction ?? d.fraction,
    batchSize: spec.batchSize ?? d.batchSize,
    lr,
    recipe: 'seed002',
    lrNote: lr === RECIPE_LR ? null : spec.lr !== undefined ? `--lr ${lr} given` : LR_NOTES[quick ? 'quick' : 'full'],
    sizing: '',
    explain: spec.explain ?? true,
    explainSeed: spec.explainSeed ?? (spec.seeds ?? d.seeds)[0] ?? 0,
    explainImages: spec.explainImages ?? d.explainImages,
    explainMethods: [...(spec.explainMethods ?? d.explainMethods)].map((m) => m.trim()),
  };
  const sized = (['teacherArch', 'teacherWidth', 'studentArch', 'studentWidth', 'epochs', 'fraction', 'batchSize', 'dataset'] as const).every((k) => c[k] === d[k]) && c.seeds.length === d.seeds.length && c.losses.length === d.losses.length;
  // The measured sizing note describes the default sizes only; other sizes say so.
  c.sizing = sized ? SIZING[quick ? 'quick' : 'full'] : `not the default sizes (${c.epochs} epochs on ${c.fraction} of the training split, ${c.seeds.length} seeds, ${c.losses.length} losses); the defaults were sized as: ${SIZING[quick ? 'quick' : 'full']}`;
  checkDistillStudy(c);
  return c;
}

/** The checks of a configuration that need no engine code (architecture and loss names are the workflow's). */
export function checkDistillStudy(c: DistillStudyConfig): void {
  const need = (ok: boolean, message: string): void => {
    if (!ok) throw new UsageError(message);
  };
  need((DISTILL_STUDY_DATASETS as readonly string[]).includes(c.dataset), `--dataset must be one of ${DISTILL_STUDY_DATASETS.join(', ')}, got '${c.dataset}'`);
  need(Number.isFinite(c.teacherWidth) && c.teacherWidth > 0, `--teacher-width must be > 0, got ${c.teacherWidth}`);
  need(Number.isFinite(c.studentWidth) && c.studentWidth > 0, `--student-width must be > 0, got ${c.studentWidth}`);
  need(c.seeds.length > 0 && c.seeds.every((s) => Number.isInteger(s) && s >= 0), `--seeds must be a comma list of integers >= 0 (e.g. 0,1,2), got '${c.seeds.join(',')}'`);
  need(new Set(c.seeds).size === c.seeds.length, `--seeds lists a seed twice: '${c.seeds.join(',')}'`);
  need(c.losses.length > 0 && c.losses.every((l) => l !== ''), `--losses must name at least one distillation loss (e.g. kd,at,sp), got '${c.losses.join(',')}'`);
  need(new Set(c.losses).size === c.losses.length, `--losses lists a loss twice: '${c.losses.join(',')}'`);
  need(Number.isInteger(c.epochs) && c.epochs >= 1, `--epochs must be an integer >= 1, got ${c.epochs}`);
  need(Number.isFinite(c.fraction) && c.fraction > 0 && c.fraction <= 1, `--fraction must be in (0, 1], got ${c.fraction}`);
  need(Number.isInteger(c.batchSize) && c.batchSize >= 1, `--batch-size must be an integer >= 1, got ${c.batchSize}`);
  need(Number.isFinite(c.lr) && c.lr > 0, `--lr must be > 0, got ${c.lr}`);
  need(typeof c.explain === 'boolean', `explain must be true or false, got ${String(c.explain)}`);
  need(c.seeds.includes(c.explainSeed), `--explain-seed must be one of the study's seeds (${c.seeds.join(',')}), got ${c.explainSeed}`);
  need(Number.isInteger(c.explainImages) && c.explainImages >= 1, `--explain-images must be an integer >= 1, got ${c.explainImages}`);
  need(c.explainMethods.length > 0 && c.explainMethods.every((m) => m !== ''), `--explain-methods must name at least one method (e.g. gradcam,ig), got '${c.explainMethods.join(',')}'`);
  need(new Set(c.explainMethods).size === c.explainMethods.length, `--explain-methods lists a method twice: '${c.explainMethods.join(',')}'`);
}

/** A config.json written before the explanation existed: the explanation's defaults filled in (the members of the first seed). */
export function withExplainDefaults(c: Partial<DistillStudyConfig> & Omit<DistillStudyConfig, 'explain' | 'explainSeed' | 'explainImages' | 'explainMethods'>): DistillStudyConfig {
  const d = studyDefaults(c.quick);
  return { ...c, explain: c.explain ?? true, explainSeed: c.explainSeed ?? c.seeds[0] ?? 0, explainImages: c.explainImages ?? d.explainImages, explainMethods: c.explainMethods ?? [...d.explainMethods] };
}
