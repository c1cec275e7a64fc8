// Training recipes: named sets of defaults for the training configuration,
// applied under whatever options are given explicitly (`slimnet train
// --recipe seed002 --lr 0.1` is the recipe with another lr). One table, read
// by the training spec (resolveTrainConfig) and by distillation, which trains
// with the same recipe but, as seed 002 does, without label smoothing.
import { UsageError } from '../util/errors.js';
import type { TrainConfig } from './train-spec.js';

export const RECIPES = ['none', 'seed002'] as const;
export type RecipeName = (typeof RECIPES)[number];

/** What the recipe trains: a baseline (teacher, student from scratch) or a student by distillation. */
export type RecipePurpose = 'baseline' | 'distill';

interface Recipe {
  /** One line for --help. */
  summary: string;
  /** The defaults it sets (the optimizer's lr and momentum only with its own optimizer: see recipeDefaultsFor). */
  values: Partial<TrainConfig>;
  /** What distillation changes of `values`. */
  distill: Partial<TrainConfig>;
}

/**
 * seed002: seed 002's recipe (its trainer and distiller): SGD lr 0.5 with
 * momentum 0.9, 5 epochs of linear warm-up then cosine annealing, weight
 * decay except on BatchNorm (and, here, biases: the optimizer's groups skip
 * both), label smoothing 0.1 for the baselines and none for distillation, its
 * augmentation set, ImageNet normalisation, and 5,000 of the 50,000 training
 * images held out (a tenth). The seed does not give its weight decay; 5e-4 is
 * the usual value for ResNets on CIFAR.
 */
const TABLE: Record<RecipeName, Recipe> = {
  none: { summary: 'the defaults listed with each option', values: {}, distill: {} },
  seed002: {
    summary: "seed 002's recipe",
    values: { optimizer: 'sgd', lr: 0.5, momentum: 0.9, schedule: 'cosine', warmupEpochs: 5, labelSmoothing: 0.1, weightDecay: 5e-4, augment: 'seed002', normalize: 'imagenet', validation: 0.1 },
    distill: { labelSmoothing: 0 },
  },
};

function recipe(name: string): Recipe {
  if (!(RECIPES as readonly string[]).includes(name)) throw new UsageError(`--recipe must be one of ${RECIPES.join(', ')}, got '${name}'`);
  return TABLE[name as RecipeName];
}

/** The defaults a recipe sets for a purpose (distillation: no label smoothing). An unknown name is a UsageError naming --recipe. */
export function recipeDefaults(name: RecipeName, purpose: RecipePurpose = 'baseline'): Partial<TrainConfig> {
  const r = recipe(name);
  return { ...r.values, ...(purpose === 'distill' ? r.distill : {}) };
}

/**
 * The recipe's warm-up for a run of `epochs` epochs: its own length, but at
 * most a quarter of the run and at least one epoch when the run has two or
 * more (seed 002 warms up 5 of 600 epochs; a 3-epoch quick run gets 1, a
 * 10-epoch run 2, 20 epochs and more the full 5). A run of one epoch has no
 * warm-up: the schedule advances per epoch, and the warm-up must end before
 * the last one.
 */
export function scaledWarmup(recipeWarmup: number, epochs: number): number {
  if (epochs < 2) return 0;
  return Math.min(recipeWarmup, Math.max(1, Math.floor(epochs / 4)));
}

/**
 * The options a run resolves from: those given, over the defaults of the
 * recipe they name (given.recipe, default 'none'). Two of the recipe's values
 * depend on the others: its lr and momentum are its optimizer's, so with
 * another --optimizer given they are left to that optimizer's defaults; and
 * its warm-up is scaled to the run's epochs (scaledWarmup). An explicit
 * --warmup-epochs is taken as given.
 */
export function applyRecipe(given: Partial<TrainConfig>, purpose: RecipePurpose = 'baseline', defaultEpochs = 10): Partial<TrainConfig> {
  const name = given.recipe ?? 'none';
  const values: Partial<TrainConfig> = { ...recipeDefaults(name, purpose) };
  if (values.optimizer !== undefined && given.optimizer !== undefined && given.optimizer !== values.optimizer) {
    delete values.lr;
    delete values.momentum;
  }
  if (values.warmupEpochs !== undefined && given.warmupEpochs === undefined) values.warmupEpochs = scaledWarmup(values.warmupEpochs, given.epochs ?? values.epochs ?? defaultEpochs);
  const out: Partial<TrainConfig> = { ...values };
  for (const [k, v] of Object.entries(given) as [keyof TrainConfig, unknown][]) if (v !== undefined) Object.assign(out, { [k]: v });
  return out;
}

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** The recipes and what each sets, for --help: "seed002 (seed 002's recipe: optimizer sgd, lr 0.5, ...)". */
export function recipesHelp(): string {
  return RECIPES.filter((n) => n !== 'none')
    .map((n) => {
      const r = TABLE[n];
      const items = Object.entries(r.values).map(([k, v]) => {
        const extra = k === 'warmupEpochs' ? ' (at most a quarter of the epochs, at least 1 from 2 epochs)' : k === 'labelSmoothing' && r.distill.labelSmoothing !== undefined ? ` (${r.distill.labelSmoothing} for distillation)` : k === 'weightDecay' ? ' (not on BatchNorm nor biases)' : '';
        return `${kebab(k)} ${String(v)}${extra}`;
      });
      return `${n} = ${r.summary}: ${items.join(', ')}; its lr and momentum are sgd's, left to the defaults with another --optimizer`;
    })
    .join('; ');
}
