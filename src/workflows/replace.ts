// Progressive replacement as a training run (seed 001): `slimnet replace`
// blends chosen convolutions of a trained checkpoint with parallel 1×1
// branches (y = α·conv + (1 − α)·branch) and trains the blended model while α
// steps down the schedule, `patience` epochs per value. It is the training
// workflow with a replace plan (train.ts TrainPlan): the same loop, run
// directory (runs/replace/<dataset>-<arch>/version_N), checkpoints, resume
// with --version N, Ctrl-C safety and NaN guard.
//
// α is a function of the epoch index, set before each step's forward (the
// step context): a resumed run, whose epoch comes back with the trainer
// state, trains each epoch at the α an uninterrupted one would. α is also a
// buffer saved with the weights, so every checkpoint computes what it did.
//
// Collapse: after each epoch, a validation accuracy more than --collapse-pp
// points under the original model's stops the schedule. The kept weights are
// the last epoch within the bound: after every such epoch last.safetensors is
// copied to kept.safetensors (on disk, so a resumed run has it too); on a
// collapse it is loaded back and becomes the run's last.safetensors (the
// original weights at α = 1 when the first epoch already collapsed).
//
// After training: finishReplacement (α = 0: the originals removed; α > 0: the
// branches merged exactly into the k×k kernels), final.safetensors with the
// provenance, final.onnx checked in onnxruntime, measured latency before and
// after, the table, result.json, epochs.csv and the α-coloured plots.
//
// Adaptive patience ("until the validation metric recovers") is left out: it
// would make α a function of the history rather than of the epoch index, and
// the epoch count would no longer be known when the run starts.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, relative } from 'node:path';
import { DataLoader, checkpointData, evalTransform, readProvenance, type ResolvedData } from '../data/index.js';
import { loadCheckpoint, saveCheckpoint, summarize, type Model } from '../graph/index.js';
import { saveOnnx } from '../export/onnx/export.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { compareLatency } from '../measure/index.js';
import { Distillation, type TeacherRunner } from '../distill/index.js';
import { alphaOf, attachBranches, finishReplacement, fitBranches, originalKeys, selectConvs, setAlpha, type BranchFit, type Selection } from '../replace/index.js';
import type { Tensor } from '../tensor/index.js';
import { RUN_FILES, Run, readMetrics, type MetricsRow } from '../runs/index.js';
import { evaluate, type Metrics, type StepInput } from '../train/index.js';
import { pctText, plural } from '../report/format.js';
import type { Observer } from '../util/events.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import { VERIFY_TOLERANCE } from './export.js';
import { latencyPair } from './prune-report.js';
import { flagOf, givenOptions, resolveTrainConfig, resumedConfig, type TrainSpec } from './train-spec.js';
import { runTraining, type TrainExtension, type TrainPlan, type TrainReport } from './train.js';
import { NOT_REPLACE_OPTIONS, REPLACE_DEFAULTS, REPLACE_KEYS, alphaModeOf, alphasAt, asUsage, meanAlpha, replaceEpochs, resolveReplaceOptions, type ReplaceConfig, type ReplaceOptions, type ReplaceSpec } from './replace-spec.js';
import { EPOCH_CSV_HEADERS, epochCsvRows, finalTable, replaceResultJson, savePlots, type Collapse, type ModelFigures, type ReplaceEpoch, type ReplaceFinal, type ReplaceReport } from './replace-report.js';

export type { ReplaceConfig, ReplaceSpec } from './replace-spec.js';
export type { ReplaceReport } from './replace-report.js';
export { replaceResultJson } from './replace-report.js';

/** Files of a replacement run beside the training run's. */
export const REPLACE_FILES = { kept: 'kept.safetensors', alpha: 'alpha.jsonl', epochs: 'epochs.csv', final: 'final.safetensors', onnx: 'final.onnx', result: 'result.json' } as const;

const WHY_NOT: Record<(typeof NOT_REPLACE_OPTIONS)[number], string> = {
  dataset: 'the data, its split and normalisation are the checkpoint\'s',
  root: 'the data are the checkpoint\'s',
  imageSize: 'the data are the checkpoint\'s',
  classes: 'the classes are the checkpoint\'s',
  arch: 'the architecture is the checkpoint\'s',
  width: 'the architecture is the checkpoint\'s',
  validation: 'the split is the checkpoint\'s',
  fraction: 'the data are the checkpoint\'s',
  seed: 'the seed (split, shuffling, branch initialisation) is the checkpoint\'s',
  epochs: 'the epochs are the schedule\'s α values times --patience (times the convs with --alpha per-layer)',
  earlyStoppingPatience: '--collapse-pp stops the schedule',
  earlyStoppingMonitor: '--collapse-pp stops the schedule',
  earlyStoppingMinDelta: '--collapse-pp stops the schedule',
};

/** One line of alpha.jsonl: the epoch's α (the mean over the replaced convs, meanAlpha) and, in per-layer mode, each conv's. */
interface AlphaRecord {
  epoch: number;
  alpha: number;
  alphas?: Record<string, number>;
}

/** The α of a blended model as one number (meanAlpha: the shared α itself in shared mode). */
const modelAlpha = (model: Model): number => meanAlpha(alphaOf(model));

/** α per 1-based epoch as alpha.jsonl recorded it. */
function readAlphas(path: string): Map<number, AlphaRecord> {
  if (!existsSync(path)) return new Map();
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AlphaRecord);
  return new Map(rows.map((r) => [r.epoch, r]));
}

/** `convs` in the graph's order (per-layer mode replaces them in that order, whatever order --layers named them in). */
const inGraphOrder = (model: Model, convs: readonly string[]): string[] => model.graph.nodes.filter((n) => convs.includes(n.name)).map((n) => n.name);

/** The options the resumed run's config.json must agree with, as given (resolved) in this call. */
function givenReplaceOptions(spec: ReplaceSpec, o: ReturnType<typeof resolveReplaceOptions>): Partial<ReplaceOptions> {
  const out: Partial<ReplaceOptions> = { checkpoint: o.checkpoint };
  if (spec.paramShare !== undefined) out.paramShare = o.paramShare;
  if (o.layersGiven) out.layers = o.layersGiven;
  if (spec.alphaSchedule !== undefined) out.alphaSchedule = o.alphaSchedule;
  if (spec.patience !== undefined) out.patience = o.patience;
  if (spec.alphaMode !== undefined) out.alphaMode = o.alphaMode;
  if (spec.branchInit !== undefined) out.branchInit = o.branchInit;
  if (spec.freezeOriginal !== undefined) out.freezeOriginal = o.freezeOriginal;
  if (spec.branchWidth !== undefined) out.branchWidth = o.branchWidth;
  if (spec.loss !== undefined) out.loss = o.loss;
  if (spec.collapsePp !== undefined) out.collapsePp = o.collapsePp;
  return out;
}

/** The CLI flag of a replace option (the α schedule is --schedule there, the α mode --alpha). */
const replaceFlag = (k: keyof ReplaceOptions): string => (k === 'alphaSchedule' ? '--schedule' : k === 'alphaMode' ? '--alpha' : flagOf(k));

/** The branch width of a run's configuration (1 in a config.json written before --branch-width). */
const widthOf = (cfg: Pick<ReplaceOptions, 'branchWidth'>): number => cfg.branchWidth ?? REPLACE_DEFAULTS.branchWidth;

/** The branches in words, for the log. */
const branchText = (cfg: Pick<ReplaceOptions, 'branchWidth'>): string => (widthOf(cfg) === 1 ? '1×1 branches' : `narrow 1×1 branches (width ${widthOf(cfg)}: two 1×1 convs through round(${widthOf(cfg)} · min(Cin, Cout)) channels)`);

/** 'a 0, b 0.5' for the log. */
const alphaMapText = (alphas: Readonly<Record<string, number>>): string => Object.entries(alphas).map(([c, a]) => `${c} ${+a.toPrecision(4)}`).join(', ');

/** Training images the least-squares branch fit reads (--branch-init lsq). */
const LSQ_FIT_IMAGES = 512;

/** metrics.jsonl's row of an epoch of the report's history. */
const metricsRowOf = (s: TrainReport['history'][number]): MetricsRow => ({
  epoch: s.epoch,
  lr: s.lr,
  train_loss: s.trainLoss,
  train_acc: s.trainAccuracy,
  val_loss: s.valLoss,
  val_acc: s.valAccuracy,
  val_balanced_acc: s.valBalancedAccuracy,
  seconds: s.seconds,
});

const rel = (p: string): string => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');

/**
 * Replaces convolutions of `spec.checkpoint` progressively in a new run, or
 * resumes `spec.resume`; see ReplaceReport. Every check (the flags, the
 * checkpoint, the convs, the schedule) runs before the run directory exists.
 */
export async function replaceRun(spec: ReplaceSpec, observer: Observer = {}): Promise<ReplaceReport> {
  const opts = resolveReplaceOptions(spec);
  const dp = spec.parallel;
  const trainPart = Object.fromEntries(Object.entries(spec).filter(([k]) => !(REPLACE_KEYS as readonly string[]).includes(k))) as TrainSpec;
  for (const k of NOT_REPLACE_OPTIONS) if (trainPart[k] !== undefined) throw new UsageError(`${flagOf(k)} does not apply to replace: ${WHY_NOT[k]}`);
  const given = givenOptions(trainPart, 'replace spec');
  if (!existsSync(opts.checkpoint)) throw new UsageError(`--checkpoint ${opts.checkpoint} does not exist`);
  const loaded = loadCheckpoint(opts.checkpoint);
  const original = loaded.model.eval();
  let student: Model | undefined;
  let taken = false;
  const loaders: DataLoader[] = [];
  try {
    const p = readProvenance(loaded.meta, opts.checkpoint);
    const data = checkpointData(loaded.meta, {}, opts.checkpoint);
    if (!data.validation?.length) {
      throw new UsageError(`--checkpoint ${opts.checkpoint} was trained without a validation split: replace stops a collapsing schedule on validation accuracy (--collapse-pp); use a checkpoint trained with --validation > 0`);
    }
    // A resumed run replaces the convs its config.json names; a new one checks the selection here, before any run directory.
    const selection: Selection | null =
      spec.resume === undefined ? asUsage(opts.layersGiven ? '--layers' : '--param-share', () => selectConvs(original.graph, { ...(opts.layersGiven ? { layers: opts.layersGiven } : { paramShare: opts.paramShare! }), width: opts.branchWidth })) : null;
    const arch = p.arch ?? basename(opts.checkpoint).replace(/\.safetensors$/, '');
    const base = resolveTrainConfig(
      {
        // The learning rate stays put across the α schedule unless told otherwise (a cosine over all α values would starve the last, hardest ones).
        ...(given.schedule === undefined && given.recipe === undefined ? { schedule: REPLACE_DEFAULTS.lrSchedule } : {}),
        ...given,
        dataset: data.dataset,
        root: p.root ?? null,
        imageSize: p.imageSize ?? null,
        classes: p.classSubset ?? null,
        arch,
        width: p.width ?? 1,
        validation: p.validation ?? 0,
        fraction: p.fraction ?? 1,
        seed: data.seed,
        // A resumed run's epochs are its config.json's (the selection is not known here then).
        epochs: replaceEpochs(opts, selection?.convs.length ?? 1),
      },
      opts.loss === 'logit-mse' ? 'distill' : 'baseline',
    );
    const { layersGiven: _l, latencyRuns, ...own } = opts;
    const config: ReplaceConfig = { ...base, ...own, layers: selection?.convs ?? [] };

    const evalLoader = (d: ResolvedData['test']): DataLoader => {
      const l = new DataLoader(d, { batchSize: base.evalBatchSize, transform: evalTransform(data.norm) });
      loaders.push(l);
      return l;
    };
    const originalVal = (await evaluate(original, evalLoader(data.validation), data.classes)).accuracy;

    // --branch-init lsq: the fit's images (normalised, not augmented), read here because the plan's model() is synchronous; a resumed run's branches come from its state.
    // Under data parallel every rank reads the same images (this loader is not sharded: the whole split in the seeded order), so every rank fits the same branches; runTraining broadcasts rank 0's weights at the start in any case.
    const fitImages: Tensor[] = [];
    if (config.branchInit === 'lsq' && spec.resume === undefined) {
      const fitLoader = new DataLoader(data.train, { batchSize: base.batchSize, shuffle: true, seed: base.seed, transform: evalTransform(data.norm) });
      loaders.push(fitLoader);
      for await (const b of fitLoader.epoch(0)) {
        b.y.dispose();
        fitImages.push(b.x);
        if (fitImages.length * base.batchSize >= LSQ_FIT_IMAGES) break;
      }
    }
    let fits: BranchFit[] = [];

    // Set by the extension during training (closures: held in an object so the reads after runTraining see them).
    const seen: { runner: TeacherRunner | null; collapse: Collapse | null } = { runner: null, collapse: null };
    const plan: TrainPlan<ReplaceConfig> = {
      command: 'replace',
      data: () => data,
      model(cfg) {
        student = asUsage('--layers', () => attachBranches(original, cfg.layers, { init: cfg.branchInit === 'lsq' ? 'centre' : cfg.branchInit, seed: cfg.seed, width: widthOf(cfg) }));
        if (fitImages.length) {
          fits = fitBranches(original, student, fitImages);
          for (const t of fitImages.splice(0)) t.dispose();
        }
        const blended = student;
        return {
          graph: blended.graph,
          label: `${cfg.arch}${cfg.width !== 1 ? ` (width ${cfg.width})` : ''} with ${plural(cfg.layers.length, 'conv')} blended with ${branchText(cfg)}`,
          create: () => {
            taken = true;
            return blended;
          },
        };
      },
      extend(model, cfg): TrainExtension {
        const frozen = cfg.freezeOriginal ? model.freeze(originalKeys(model)) : [];
        const bound = originalVal - cfg.collapsePp / 100;
        const order = inGraphOrder(original, cfg.layers);
        const perLayer = alphaModeOf(cfg) === 'per-layer';
        let current: number | null = null;
        const alphaFor = (input: StepInput): void => {
          if (input.epoch !== current) setAlpha(model, alphasAt(cfg, order, input.epoch));
          current = input.epoch;
        };
        let trainer: TrainExtension['trainer'];
        let dist: Distillation | undefined;
        if (cfg.loss === 'logit-mse') {
          // Seed 001's loss: the regression on the original model's logits (the distillation 'logits' term, CE weight 0), the original run once per step as a frozen teacher.
          dist = new Distillation({ teacher: original, student: model, losses: [{ name: 'logits', params: {} }], ceWeight: 0, labelSmoothing: 0 });
          seen.runner = dist.runner;
          const o = dist.trainerOptions();
          trainer = { ...o, stepContext: (input: StepInput) => (alphaFor(input), o.stepContext(input)) } as unknown as TrainExtension['trainer'];
        } else trainer = { stepContext: (input: StepInput) => void alphaFor(input) };
        const alphas = cfg.alphas.map((a) => +a.toPrecision(4));
        return {
          trainer,
          extraParams: [],
          meta: { replace: { checkpoint: cfg.checkpoint, layers: cfg.layers, alphaSchedule: cfg.alphaSchedule, patience: cfg.patience, branchInit: cfg.branchInit, freezeOriginal: cfg.freezeOriginal, branchWidth: widthOf(cfg), loss: cfg.loss, ...(perLayer ? { alphaMode: cfg.alphaMode } : {}) } },
          lines: [
            `replace: ${cfg.layers.length} conv${cfg.layers.length === 1 ? '' : 's'} (${cfg.layers.join(', ')}) blended with ${branchText(cfg)} (${cfg.branchInit} init)${cfg.paramShare !== null ? ` for a ${(cfg.paramShare * 100).toFixed(0)} % parameter share` : ''}${frozen.length ? `; originals frozen (${frozen.length} tensors)` : '; originals train'}`,
            ...(fits.length ? [`lsq branch init on ${LSQ_FIT_IMAGES} training images: output MSE per conv ${fits.map((f) => `${f.conv} ${f.mse.toExponential(2)}`).join(', ')}`] : []),
            `α schedule ${cfg.alphaSchedule}: α ${alphas.length > 8 ? `${alphas.slice(0, 4).join(', ')}, …, ${alphas.slice(-2).join(', ')}` : alphas.join(', ')} (${plural(alphas.length, 'value')}), ${plural(cfg.patience, 'epoch')} each${perLayer ? `, per layer: the convs through the schedule one after another (${order.join(', ')}; the others at 1 before their turn and at the last α after it), ${plural(cfg.epochs, 'epoch')}` : ''}; loss ${cfg.loss === 'ce' ? 'cross-entropy' : 'logit regression on the original model (run once per step)'}`,
            `collapse: the schedule stops when validation accuracy falls under ${pctText(bound)} % (the original's ${pctText(originalVal)} % minus ${cfg.collapsePp} points)`,
            ...(dp ? [`replace data parallel over ${dp.size} processes: every process sets α from the epoch index and checks the collapse bound on the validation accuracy of the whole split (the same number on each); rank 0 alone finishes the model (final.safetensors, final.onnx, latency, epochs.csv, plots, result.json)`] : []),
          ],
          afterEpoch(row: MetricsRow, run: Run): string | null {
            const each = alphaOf(model);
            const alpha = meanAlpha(each);
            const alphaFile = run.file(REPLACE_FILES.alpha);
            const recorded = [...readAlphas(alphaFile).values()].filter((r) => r.epoch < row.epoch);
            const record: AlphaRecord = { epoch: row.epoch, alpha, ...(perLayer ? { alphas: each } : {}) };
            run.writeText(REPLACE_FILES.alpha, [...recorded, record].map((r) => JSON.stringify(r) + '\n').join(''));
            const kept = run.file(REPLACE_FILES.kept);
            if (row.val_acc !== null && row.val_acc < bound) {
              let keptEpoch = 0;
              if (existsSync(kept)) {
                const k = loadCheckpoint(kept);
                try {
                  model.loadStateDict(Object.fromEntries(k.model.namedTensors()));
                  keptEpoch = typeof k.meta.epoch === 'number' ? k.meta.epoch : row.epoch - 1;
                } finally {
                  k.model.dispose();
                }
              } else {
                // The first α collapsed already: the original weights (α = 1, the branches do not count).
                model.loadStateDict({ ...Object.fromEntries(model.namedTensors()), ...Object.fromEntries(original.namedTensors()) });
                setAlpha(model, 1);
              }
              const collapse: Collapse = { epoch: row.epoch, alpha, valAccuracy: row.val_acc, keptEpoch, keptAlpha: modelAlpha(model), ...(perLayer ? { alphas: each, keptAlphas: alphaOf(model) } : {}) };
              seen.collapse = collapse;
              run.update({ collapse });
              return `collapse: validation accuracy ${pctText(row.val_acc)} % at α ${+alpha.toPrecision(4)} (epoch ${row.epoch}) is more than ${cfg.collapsePp} points under the original's ${pctText(originalVal)} %: the schedule stops; the final weights are ${keptEpoch === 0 ? "the original's (α 1)" : `epoch ${keptEpoch}'s (α ${perLayer ? alphaMapText(collapse.keptAlphas!) : +collapse.keptAlpha.toPrecision(4)})`}`;
            }
            copyFileSync(run.file(RUN_FILES.last), kept);
            return null;
          },
          dispose: () => dist?.dispose(),
        };
      },
      resumeCommand: (cfg, runsDir, version) => `slimnet replace --checkpoint ${cfg.checkpoint}${runsDir !== './runs' && runsDir !== 'runs' ? ` --runs-dir ${runsDir}` : ''} --version ${version}`,
    };

    const report = await runTraining(
      plan,
      {
        config,
        given,
        runsDir: spec.runsDir,
        resume: spec.resume,
        ...(dp ? { parallel: dp } : {}),
        resumed: (saved, version, progress) => {
          const mine = givenReplaceOptions(spec, opts);
          // A config.json written before --alpha has no alphaMode: its runs were shared.
          saved = { ...saved, alphaMode: alphaModeOf(saved) };
          const differ = (Object.keys(mine) as (keyof ReplaceOptions)[]).filter((k) => JSON.stringify(mine[k]) !== JSON.stringify(saved[k]));
          if (differ.length) {
            throw new UsageError(`version ${version} was run with ${differ.map((k) => `${replaceFlag(k)} ${JSON.stringify(saved[k])}`).join(', ')}; --version resumes a run with its own configuration (drop ${differ.map(replaceFlag).join(', ')} or start a new run)`);
          }
          const r = resumedConfig(saved, given, version, progress);
          return { config: { ...(saved as ReplaceConfig), ...r.config }, extendedFrom: r.extendedFrom };
        },
      },
      observer,
    );

    const cfg = report.config;
    const sel = selectConvs(original.graph, { layers: cfg.layers, width: widthOf(cfg) });
    const bound = originalVal - cfg.collapsePp / 100;
    // Another rank's run directory was temporary and is gone: its epochs are the report's history, at the α the epoch index gives (what alpha.jsonl records).
    const lead = !dp || dp.rank === 0;
    const alphas = lead ? readAlphas(`${report.run}/${REPLACE_FILES.alpha}`) : new Map<number, AlphaRecord>();
    const rows: MetricsRow[] = lead ? readMetrics(report.run) : report.history.map(metricsRowOf);
    const order = inGraphOrder(original, cfg.layers);
    const perLayer = alphaModeOf(cfg) === 'per-layer';
    const epochs: ReplaceEpoch[] = rows.map((r) => {
      const each = alphas.get(r.epoch)?.alphas ?? alphasAt(cfg, order, r.epoch - 1);
      return { ...r, alpha: alphas.get(r.epoch)?.alpha ?? meanAlpha(each), ...(perLayer ? { alphas: each } : {}) };
    });
    const partial = {
      selection: { convs: sel.convs, paramsBefore: sel.paramsBefore, paramsAfter: sel.paramsAfter, share: sel.share },
      collapseBound: bound,
      collapse: seen.collapse ?? (report.runStatus as { collapse?: Collapse }).collapse ?? null,
      epochs,
      teacherForwards: seen.runner ? seen.runner.forwards : null,
    };
    const s0 = summarize(original.graph).totals;
    // The finished model and its files are rank 0's (the other ranks trained the same weights; nothing after this point is collective).
    if (report.status === 'interrupted' || !lead) {
      return { ...report, ...partial, original: { params: s0.params, macs: s0.macs, accuracy: NaN, balancedAccuracy: NaN, valAccuracy: originalVal }, final: null, plots: [] };
    }

    // ---- the finished model ------------------------------------------------------------------
    const run = Run.open({ root: spec.runsDir ?? './runs', command: 'replace', dataset: cfg.dataset, arch: cfg.arch }, report.version);
    const say = (line: string): void => {
      run.say(line);
      observer.onLog?.(line);
    };
    const test = evalLoader(data.test);
    const figures = (m: Metrics, model: Model): ModelFigures => {
      const t = summarize(model.graph).totals;
      return { params: t.params, macs: t.macs, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy };
    };
    const originalFigures = { ...figures(await evaluate(original, test, data.classes), original), valAccuracy: originalVal };
    const last = loadCheckpoint(report.checkpoints.last);
    let finished: Model | undefined;
    try {
      // finishReplacement takes each blend's own α: in per-layer mode the convs before the current one end as branches (α 0), the current one merges at its α, those after it at 1 (their original kernels).
      const each = alphaOf(last.model);
      const alpha = meanAlpha(each);
      const merged = Object.values(each).some((a) => a > 0);
      finished = finishReplacement(last.model).eval();
      if (finished.graph.nodes.some((n) => n.kind === 'blend')) throw new SlimnetError('finishReplacement left a blend node in the final model');
      const finalPath = run.file(REPLACE_FILES.final);
      saveCheckpoint(finalPath, finished, { ...last.meta, command: 'replace', version: report.version, replacedFrom: cfg.checkpoint, replace: { layers: cfg.layers, alpha, merged, alphaSchedule: cfg.alphaSchedule, ...(perLayer ? { alphaMode: cfg.alphaMode, alphas: each } : {}) } });
      const onnxPath = run.file(REPLACE_FILES.onnx);
      const verified = await verifyOnnx(finished, saveOnnx(finished, onnxPath), { batch: 2 });
      if (!(verified.maxAbsDiff <= VERIFY_TOLERANCE) || verified.problems.length) throw new SlimnetError(`final.onnx differs from the final model in onnxruntime by ${verified.maxAbsDiff} (${verified.problems.join('; ')})`);
      say(`\nfinal model: ${perLayer ? `per layer: ${alphaMapText(each)} (α 0: the ${branchText(cfg)} alone; α > 0: merged into the k×k kernel)` : alpha === 0 ? `the replaced convs are their ${branchText(cfg)} (originals removed)` : `the branches merged into the k×k kernels at α ${+alpha.toPrecision(4)}`}; ${rel(finalPath)}, ${rel(onnxPath)} (onnxruntime max |diff| ${verified.maxAbsDiff.toExponential(2)})`);
      say(`measuring latency (onnxruntime CPU, batch 1 and 64, ${latencyRuns} runs each, interleaved)...`);
      const lat = await compareLatency(original, finished, { batches: [1, 64], runs: latencyRuns, warmup: Math.min(5, latencyRuns), engine: false });
      const final: ReplaceFinal = {
        ...figures(await evaluate(finished, test, data.classes), finished),
        checkpoint: finalPath,
        onnx: onnxPath,
        onnxMaxAbsDiff: verified.maxAbsDiff,
        alpha,
        merged,
        ...(perLayer ? { alphas: each } : {}),
        latency: { ortB1: latencyPair(lat.ort[1]!), ortB64: latencyPair(lat.ort[64]!) },
      };
      say(`\n${finalTable(originalFigures, final)}`);
      run.writeCsv(REPLACE_FILES.epochs, EPOCH_CSV_HEADERS, epochCsvRows(epochs));
      const plots = await savePlots(epochs, (n) => run.file(n), { originalVal, bound });
      say(`files: ${[run.file(REPLACE_FILES.epochs), ...plots, run.file(REPLACE_FILES.result)].map(rel).join(', ')}`);
      const out: ReplaceReport = { ...report, ...partial, original: originalFigures, final, plots };
      run.writeJson(REPLACE_FILES.result, replaceResultJson(out));
      run.update({ replaced: { params: final.params, macs: final.macs, test: { accuracy: final.accuracy, balancedAccuracy: final.balancedAccuracy }, alpha, ...(perLayer ? { alphas: each } : {}) } });
      return out;
    } finally {
      finished?.dispose();
      last.model.dispose();
    }
  } finally {
    for (const l of loaders) await l.close();
    if (student && !taken) student.dispose();
    original.dispose();
  }
}

