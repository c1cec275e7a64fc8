// Training recipes: `--recipe seed002` resolves to seed 002's values, under
// any option given explicitly; its warm-up shrinks with short runs;
// distillation drops the label smoothing; resuming keeps what the run was
// saved with; unknown names are UsageErrors naming --recipe; and its weight
// decay skips BatchNorm and biases (pinned on the optimizer's groups).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { buildOptimizer, classifyParameters } from '../train/index.js';
import { UsageError } from '../util/errors.js';
import { RECIPES, recipeDefaults, scaledWarmup } from './recipes.js';
import { givenOptions, optimizerOf, parseFlagValue, resolveTrainConfig, resumedConfig, trainOption, type TrainConfig } from './train-spec.js';

const SEED002 = { optimizer: 'sgd', lr: 0.5, momentum: 0.9, schedule: 'cosine', labelSmoothing: 0.1, weightDecay: 5e-4, augment: 'seed002', normalize: 'imagenet', validation: 0.1 } as const;

const pick = (c: TrainConfig, keys: readonly (keyof TrainConfig)[]): Partial<TrainConfig> => Object.fromEntries(keys.map((k) => [k, c[k]]));

test('--recipe seed002 resolves to seed 002 values; none keeps the defaults', () => {
  const c = resolveTrainConfig({ recipe: 'seed002', epochs: 600 });
  assert.deepEqual(pick(c, Object.keys(SEED002) as (keyof TrainConfig)[]), SEED002);
  assert.equal(c.recipe, 'seed002');
  assert.equal(c.warmupEpochs, 5, "the seed's 5 warm-up epochs of 600");
  assert.deepEqual(resolveTrainConfig({ recipe: 'none' }), resolveTrainConfig({}), 'none is the defaults');
  const d = resolveTrainConfig({});
  assert.equal(d.recipe, 'none');
  assert.equal(d.optimizer, 'adam');
  assert.equal(d.augment, 'none');
  assert.equal(d.normalize, 'dataset');
  assert.deepEqual(RECIPES, ['none', 'seed002']);
});

test('the warm-up: the recipe’s 5 epochs, at most a quarter of the run, at least 1 from 2 epochs', () => {
  const warm = (epochs: number): number => resolveTrainConfig({ recipe: 'seed002', epochs }).warmupEpochs;
  assert.deepEqual([1, 2, 3, 4, 7, 8, 10, 12, 16, 19, 20, 600].map(warm), [0, 1, 1, 1, 1, 2, 2, 3, 4, 4, 5, 5]);
  assert.equal(resolveTrainConfig({ recipe: 'seed002' }).warmupEpochs, 2, 'the default 10 epochs');
  assert.equal(scaledWarmup(5, 3), 1);
  for (let e = 1; e <= 40; e++) assert.ok(warm(e) < e, `warm-up ends before the last of ${e} epochs`);
  // The cosine starts after it (scheduleOf: length epochs - warm-up).
  assert.equal(resolveTrainConfig({ recipe: 'seed002', epochs: 3, warmupEpochs: 2 }).warmupEpochs, 2, 'an explicit value is taken as given');
  assert.throws(() => resolveTrainConfig({ recipe: 'seed002', epochs: 3, warmupEpochs: 3 }), (e: unknown) => e instanceof UsageError && /^--warmup-epochs must be in \[0, epochs\)/.test(e.message));
});

test('an option given explicitly wins over the recipe', () => {
  const c = resolveTrainConfig({ recipe: 'seed002', lr: 0.1, augment: 'flip,crop', normalize: 'dataset', labelSmoothing: 0, validation: 5000, weightDecay: 0, epochs: 20 });
  assert.deepEqual(pick(c, ['lr', 'augment', 'normalize', 'labelSmoothing', 'validation', 'weightDecay', 'optimizer', 'momentum', 'warmupEpochs']), {
    lr: 0.1,
    augment: 'flip,crop',
    normalize: 'dataset',
    labelSmoothing: 0,
    validation: 5000,
    weightDecay: 0,
    optimizer: 'sgd',
    momentum: 0.9,
    warmupEpochs: 5,
  });
  // The recipe's lr is sgd's: another optimizer takes its own default lr (and the rest of the recipe).
  const adam = resolveTrainConfig({ recipe: 'seed002', optimizer: 'adam' });
  assert.equal(adam.lr, 0.001);
  assert.equal(adam.labelSmoothing, 0.1);
  assert.equal(resolveTrainConfig({ recipe: 'seed002', optimizer: 'adam', lr: 0.003 }).lr, 0.003);
  // Digits: the preset skips the flip; the recipe resolves on them too.
  assert.equal(resolveTrainConfig({ recipe: 'seed002', dataset: 'mnist-digits' }).augment, 'seed002');
});

test('distillation: the same recipe without label smoothing', () => {
  assert.deepEqual(recipeDefaults('seed002', 'distill'), { ...recipeDefaults('seed002'), labelSmoothing: 0 });
  assert.equal(recipeDefaults('seed002').labelSmoothing, 0.1);
  const c = resolveTrainConfig({ recipe: 'seed002', epochs: 30 }, 'distill');
  assert.equal(c.labelSmoothing, 0);
  assert.equal(c.lr, 0.5);
  assert.equal(resolveTrainConfig({ recipe: 'seed002', labelSmoothing: 0.2 }, 'distill').labelSmoothing, 0.2, 'explicit wins');
  assert.deepEqual(recipeDefaults('none', 'distill'), {});
});

test('an unknown recipe is a UsageError naming --recipe', () => {
  const isRecipeError = (e: unknown): boolean => e instanceof UsageError && /recipe must be one of none, seed002/.test(e.message) && /['"]seed-002['"]/.test(e.message);
  assert.throws(() => resolveTrainConfig({ recipe: 'seed-002' as never }), isRecipeError);
  assert.throws(() => recipeDefaults('seed-002' as never), (e: unknown) => e instanceof UsageError && e.message === "--recipe must be one of none, seed002, got 'seed-002'");
  assert.throws(() => parseFlagValue(trainOption('recipe')!, 'seed-002'), (e: unknown) => e instanceof UsageError && e.message === "--recipe must be one of none, seed002, got 'seed-002'");
  assert.throws(() => givenOptions({ recipe: 'seed-002' as never }), isRecipeError);
});

test('resuming a recipe run keeps its values; runs saved before recipes resume with none and the data set normalisation', () => {
  const saved = JSON.parse(JSON.stringify(resolveTrainConfig({ recipe: 'seed002', epochs: 8 }))) as Partial<TrainConfig>;
  assert.deepEqual(resumedConfig(saved, {}, 0).config, saved);
  assert.deepEqual(resumedConfig(saved, { recipe: 'seed002' }, 0).config, saved, 'the recipe given again agrees');
  // Extending keeps the recipe's values as saved (the warm-up is not re-scaled to the new epochs).
  const ext = resumedConfig(saved, { epochs: 30 }, 0, { epochsDone: 8, complete: true });
  assert.deepEqual(ext.config, { ...saved, epochs: 30 });
  assert.throws(() => resumedConfig(saved, { recipe: 'none' }, 0), (e: unknown) => e instanceof UsageError && /version 0 was trained with --recipe "seed002"/.test(e.message));
  assert.throws(() => resumedConfig(saved, { lr: 0.1 }, 0), (e: unknown) => e instanceof UsageError && /--lr 0.5/.test(e.message));
  const old = { ...resolveTrainConfig({}) } as Partial<TrainConfig>;
  delete old.recipe;
  delete old.normalize;
  const r = resumedConfig(old, {}, 2).config;
  assert.equal(r.recipe, 'none');
  assert.equal(r.normalize, 'dataset');
  assert.throws(() => resumedConfig(old, { recipe: 'seed002' }, 2), (e: unknown) => e instanceof UsageError && /--recipe "none"/.test(e.message));
});

test('the recipe’s weight decay skips BatchNorm parameters and biases', () => {
  const c = resolveTrainConfig({ recipe: 'seed002', dataset: 'cifar10', arch: 'resnet20' });
  const model = Model.create(buildArch('resnet20', { inChannels: 3, classes: 10, imageSize: 32 }), { seed: 0 });
  const optimizer = buildOptimizer(model, optimizerOf(c));
  try {
    const decayOf = new Map<unknown, number>();
    for (const g of optimizer.paramGroups) for (const p of g.params) decayOf.set(p, (g as typeof g & { weightDecay: number }).weightDecay);
    let norm = 0;
    let bias = 0;
    let decayed = 0;
    for (const p of classifyParameters(model)) {
      const wd = decayOf.get(p.tensor);
      if (p.category === 'norm') (norm++, assert.equal(wd, 0, p.key));
      else if (p.name === 'bias') (bias++, assert.equal(wd, 0, p.key));
      else (decayed++, assert.equal(wd, 5e-4, p.key));
    }
    assert.ok(norm > 0 && bias > 0 && decayed > 0, `${norm} norm, ${bias} bias, ${decayed} decayed parameters`);
    assert.equal(optimizer.paramGroups.reduce((a, g) => a + g.params.length, 0), model.parameters().length, 'every parameter in one group');
  } finally {
    optimizer.dispose();
    model.dispose();
  }
});
