// Distillation as a training run: `slimnet distill` trains a student from a
// teacher (a slimnet checkpoint or an ONNX file) in a versioned run
// directory (runs/distill/<dataset>-<student>/version_N) with everything a
// training run has — the same loop, checkpoints, resume with --version N,
// Ctrl-C safety and NaN guard — because it is the training workflow with a
// distillation plan (train.ts TrainPlan): the student, the teacher's step
// context, the loss terms and the adapters. It reports the student's test
// accuracy, balanced accuracy, training time and its top-1 agreement with the
// teacher.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { DataLoader, evalTransform, readProvenance, type NormalizeSpec, type ResolvedData } from '../data/index.js';
import { Model, humanCount, loadCheckpoint, summarize, type Graph } from '../graph/index.js';
import { archNames, buildArch } from '../models/index.js';
import { evaluate, type Metrics } from '../train/index.js';
import { CachedLogits, Distillation, DistillError, agreement, classCount, distillLoss, distillLossNames, loadTeacher, parsePairs, type PairingRecord, type ResolvedLoss, type Teacher } from '../distill/index.js';
import { duration, pctText, plural } from '../report/format.js';
import type { Observer } from '../util/events.js';
import { UsageError } from '../util/errors.js';
import { givenOptions, noiseOf, resolveTrainConfig, resumedConfig, type TrainConfig, type TrainSpec } from './train-spec.js';
import { exportFinal, runTraining, trainData, type TrainExtension, type TrainPlan, type TrainReport } from './train.js';
import type { ExportReport } from './export.js';
import type { DataParallel } from '../train/data-parallel.js';

/** What distillRun takes: the training options (the student's recipe) and the distillation's own. */
export interface DistillSpec extends Omit<TrainSpec, 'arch'> {
  /** The teacher: a slimnet checkpoint (.safetensors) or an ONNX file (.onnx). */
  teacher: string;
  /**
   * The student: a zoo architecture (at `width`), 'teacher' (the teacher's
   * own architecture at `width`, default 0.5: "the teacher with half the
   * filters"; needs a teacher trained by slimnet), or a checkpoint to start
   * from (a pruned model, distilled from its unpruned parent). Default 'teacher'.
   */
  student?: string;
  /** Loss names, or a comma list ('kd,at'); default kd. */
  loss?: string | readonly string[];
  /** Loss parameters as 'loss.param' → value ({ 'kd.temperature': 2, 'at.weight': 500 }). */
  lossParams?: Readonly<Record<string, number>>;
  /** Factor of the student's cross-entropy (default: the smallest of the losses' anchor values, 0.1 with kd). */
  ceWeight?: number;
  /** Feature pairs 'student:teacher,...' (default: stage outputs, by name or by spatial size). */
  pairs?: string;
  /** Cache the teacher's logits for the training set once (logit-only losses without augmentation); default true where it applies. */
  cacheTeacherLogits?: boolean;
  /** Per-sample input [C, H, W] of an ONNX teacher whose input dimensions are symbolic. */
  teacherInputShape?: readonly number[];
  /** Also write the final student as ONNX (a path; true: student.onnx in the run directory); under data parallel, rank 0 alone writes it. */
  exportOnnx?: string | boolean;
  /** Data-parallel training: this process is one rank of the group (see runTraining). */
  parallel?: DataParallel;
}

/** config.json of a distillation run: the training options plus the distillation's, every value resolved. */
export interface DistillConfig extends TrainConfig {
  teacher: string;
  teacherKind: Teacher['kind'];
  /** What --student was ('teacher', an architecture or a checkpoint path). */
  student: string;
  losses: ResolvedLoss[];
  ceWeight: number;
  pairs: PairingRecord | null;
  cacheTeacherLogits: boolean;
}

export interface DistillReport extends TrainReport<DistillConfig> {
  teacher: {
    path: string;
    kind: Teacher['kind'];
    params: number;
    macs: number;
    /** The teacher's accuracy on the test split (null when the run did not reach the test). */
    test: { accuracy: number; balancedAccuracy: number } | null;
  };
  /** Share of test images where teacher and student predict the same class (null when not reached). */
  agreement: number | null;
  /** Training wall time of the epochs of this run (s), teacher forwards included. */
  trainingSeconds: number;
  /** Seconds spent caching the teacher's logits (null when it ran live). */
  cacheSeconds: number | null;
  /** The ONNX export of the final student, when asked (null on the ranks other than 0 of a data-parallel run). */
  onnx: ExportReport | null;
}

const DISTILL_KEYS = ['teacher', 'student', 'loss', 'lossParams', 'ceWeight', 'pairs', 'cacheTeacherLogits', 'teacherInputShape', 'exportOnnx', 'parallel'] as const;

function lossNames(loss: DistillSpec['loss']): string[] {
  const list = loss === undefined ? ['kd'] : typeof loss === 'string' ? loss.split(',') : [...loss];
  const names = list.map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`--loss: give at least one of ${distillLossNames().join(', ')}`);
  for (const n of names) distillLoss(n);
  return names;
}

/** 'kd.temperature' → { kd: { temperature } }; unknown losses or keys not given to --loss are errors. */
function lossParamsByLoss(params: DistillSpec['lossParams'], names: readonly string[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    const dot = key.indexOf('.');
    if (dot <= 0) throw new UsageError(`--loss-param ${key}: write it as loss.param=value (e.g. kd.temperature=2)`);
    const loss = key.slice(0, dot);
    if (!names.includes(loss)) throw new UsageError(`--loss-param ${key}: '${loss}' is not among the losses of this run (${names.join(', ')})`);
    (out[loss] ??= {})[key.slice(dot + 1)] = value;
  }
  return out;
}

/** The student's graph and how to make it, and the architecture name the run directory carries. */
interface StudentPlan {
  arch: string;
  label: string;
  graph: Graph;
  create(): Model;
  /** Releases a loaded student that training never took (a set-up check failed first). */
  dispose?(): void;
}

function studentPlan(spec: DistillSpec, teacher: Teacher, config: TrainConfig, data: ResolvedData): StudentPlan {
  const what = spec.student ?? 'teacher';
  const [ch, h] = data.train.sampleShape;
  const classes = data.train.classes.length;
  if (what === 'teacher' || archNames().includes(what)) {
    let arch = what;
    if (what === 'teacher') {
      const p = readProvenance(teacher.meta, teacher.path);
      if (teacher.kind !== 'checkpoint' || !p.arch || !archNames().includes(p.arch)) {
        throw new UsageError(`--student teacher builds the teacher's architecture at --width, but ${teacher.path} does not name a zoo architecture (an ONNX file or an imported model): give --student ARCH or a checkpoint`);
      }
      arch = p.arch;
    }
    const graph = buildArch(arch, { inChannels: ch, classes, imageSize: h, widthMultiplier: config.width });
    return { arch, label: `${arch} (width ${config.width})`, graph, create: () => Model.create(graph, { seed: config.seed }) };
  }
  if (!existsSync(what)) throw new UsageError(`--student: '${what}' is neither a zoo architecture (${archNames().join(', ')}), 'teacher', nor an existing checkpoint file`);
  const loaded = loadCheckpoint(what);
  const graph = loaded.model.graph;
  const p = readProvenance(loaded.meta, what);
  let taken = false;
  return {
    arch: p.arch ? `${p.arch}-${basename(what).replace(/\.safetensors$/, '')}` : basename(what).replace(/\.safetensors$/, ''),
    label: `${what} (${humanCount(summarize(graph).totals.params)} parameters)`,
    graph,
    create: () => {
      taken = true;
      return loaded.model;
    },
    // Once taken, the training disposes it.
    dispose: () => void (taken || loaded.model.dispose()),
  };
}

/**
 * Distils a student from a teacher in a new run, or resumes `spec.resume`;
 * see DistillReport. Every check (the teacher file, class counts, feature
 * pairs, loss names and parameters) runs before the run directory exists.
 */
export async function distillRun(spec: DistillSpec, observer: Observer = {}): Promise<DistillReport> {
  if (!spec.teacher) throw new UsageError('give --teacher PATH (a slimnet checkpoint or an ONNX file)');
  const names = lossNames(spec.loss);
  const dp = spec.parallel;
  const params = lossParamsByLoss(spec.lossParams, names);
  const trainPart = Object.fromEntries(Object.entries(spec).filter(([k]) => !(DISTILL_KEYS as readonly string[]).includes(k))) as TrainSpec;
  const teacher = loadTeacher(spec.teacher, spec.teacherInputShape ? { inputShape: spec.teacherInputShape } : {});
  try {
    const p = teacher.kind === 'checkpoint' ? readProvenance(teacher.meta, teacher.path) : {};
    // The student learns the teacher's data: its data set unless told otherwise.
    const given = givenOptions({ ...(p.dataset && spec.dataset === undefined ? { dataset: p.dataset } : {}), ...(p.root && spec.root === undefined && spec.dataset === undefined ? { root: p.root } : {}), ...trainPart, ...(spec.student === undefined || spec.student === 'teacher' ? { width: spec.width ?? 0.5 } : {}) });
    const base = resolveTrainConfig(given, 'distill');
    // Both models read the same images: normalised as the teacher was trained.
    const norm: NormalizeSpec | undefined = p.normalize;
    const data = trainData(base, norm);
    const teacherClasses = classCount(teacher.model.graph);
    if (teacherClasses !== data.train.classes.length) {
      throw new DistillError(`the teacher ${teacher.path} predicts ${teacherClasses} classes, the data set ${base.dataset} has ${data.train.classes.length}: they must be the same classes`);
    }
    const student = studentPlan(spec, teacher, base, data);
    let distillation: Distillation | undefined;
    try {
      // A dry set-up checks losses, class counts and pairs before any run directory exists.
      const probe = new Distillation({ teacher: teacher.model, student: Model.create(student.graph), losses: names.map((n) => ({ name: n, params: params[n] ?? {} })), ...(spec.ceWeight !== undefined ? { ceWeight: spec.ceWeight } : {}), labelSmoothing: base.labelSmoothing, ...(spec.pairs ? { pairs: parsePairs(spec.pairs) } : {}) });
      const described = probe.describe();
      const logitsOnly = probe.logitsOnly;
      probe.o.student.dispose();
      probe.dispose();
      const cache = (spec.cacheTeacherLogits ?? true) && logitsOnly && base.augment === 'none' && noiseOf(base) === null;
      if (spec.cacheTeacherLogits === true && !cache) {
        throw new UsageError(`--cache-teacher-logits needs logit-only losses (kd, logits, dkd) and --augment none without --noise-share: the teacher must see each augmented image${logitsOnly ? '' : ` (and ${names.filter((n) => distillLoss(n).needs === 'features').join(', ')} read${names.length === 1 ? 's' : ''} features)`}`);
      }
      const config: DistillConfig = {
        ...base,
        arch: student.arch,
        teacher: teacher.path,
        teacherKind: teacher.kind,
        student: spec.student ?? 'teacher',
        losses: described.losses,
        ceWeight: described.ceWeight,
        pairs: described.pairing,
        cacheTeacherLogits: cache,
      };
      const tTotals = summarize(teacher.model.graph).totals;
      let teacherTest: Metrics | null = null;
      let agree: number | null = null;
      let cacheSeconds: number | null = null;
      const plan: TrainPlan<DistillConfig> = {
        command: 'distill',
        data: () => data,
        model: () => ({ graph: student.graph, label: student.label, create: student.create }),
        extend(model, cfg, d): TrainExtension {
          distillation = new Distillation({
            teacher: teacher.model,
            student: model,
            losses: cfg.losses.map((l) => ({ name: l.name, params: l.params })),
            ceWeight: cfg.ceWeight,
            labelSmoothing: cfg.labelSmoothing,
            ...(cfg.pairs && cfg.pairs.mode === 'given' ? { pairs: cfg.pairs.pairs.map((x) => ({ student: x.student, teacher: x.teacher })) } : {}),
          });
          const dist = distillation;
          const desc = dist.describe();
          const lines = [
            `teacher: ${teacher.path} (${teacher.kind}; ${humanCount(tTotals.params)} parameters, ${humanCount(tTotals.macs)} MACs per sample), run once per step in eval mode${cfg.cacheTeacherLogits ? ' — its logits cached once for the training set' : ''}`,
            `distillation: ${desc.losses.map((l) => `${l.name} (${Object.entries(l.params).map(([k, v]) => `${k} ${v}`).join(', ')})`).join(' + ')} + ${desc.ceWeight} x cross-entropy${desc.labelSmoothing ? ` (label smoothing ${desc.labelSmoothing})` : ''}`,
            ...(desc.pairing ? [`feature pairs (${desc.pairing.mode}): ${desc.pairing.pairs.map((x) => `${x.student} [${x.studentShape.join('x')}] -> ${x.teacher} [${x.teacherShape.join('x')}]`).join(', ')}`] : []),
            ...(desc.adapters.length ? [`adapters: ${desc.adapters.map((a) => `${a.name} ${a.from} -> ${a.to} channels`).join(', ')} (1x1, trained with the student, saved in the trainer state)`] : []),
            ...(dp ? [`distillation data parallel over ${dp.size} processes: each runs the teacher on its own part of every batch${cfg.cacheTeacherLogits ? ' (each caches the logits of the whole training set, looked up by sample index, so its part of a batch gets its own rows)' : ''}; the teacher's test accuracy and the agreement are computed by each process on the whole test split; rank 0 alone writes the run directory${spec.exportOnnx !== undefined && spec.exportOnnx !== false ? ' and the ONNX file' : ''}`] : []),
          ];
          return {
            // The trainer is built over an unknown step context; the distillation's terms read the TeacherOutputs its own stepContext makes.
            trainer: dist.trainerOptions() as unknown as TrainExtension['trainer'],
            extraParams: dist.auxiliary.flatMap((m) => m.parameters()),
            meta: { distill: { teacher: teacher.path, teacherKind: teacher.kind, losses: desc.losses, ceWeight: desc.ceWeight } },
            lines,
            async beforeFit(say, signal) {
              if (!cfg.cacheTeacherLogits) return;
              const loader = new DataLoader(d.train, { batchSize: cfg.evalBatchSize, transform: evalTransform(d.norm) });
              try {
                const c = await CachedLogits.compute(teacher.model, loader, d.train.length, signal);
                cacheSeconds = c.seconds;
                dist.useCache(c);
                say(`teacher logits cached for ${d.train.length} training images in ${duration(c.seconds)}: one teacher pass instead of one per epoch (about ${duration(c.seconds * Math.max(0, cfg.epochs - 1))} of teacher forwards saved over ${plural(cfg.epochs, 'epoch')})`);
              } finally {
                await loader.close();
              }
            },
            async afterTest(model, testLoader, say, signal) {
              teacherTest = await evaluate(teacher.model, testLoader, d.test.classes);
              const a = await agreement(teacher.model, model, testLoader, signal);
              agree = a.rate;
              say(`  teacher test accuracy   ${pctText(teacherTest.accuracy)} % (balanced ${pctText(teacherTest.balancedAccuracy)} %)\n  teacher-student agreement ${pctText(a.rate)} % of ${a.count} test images (same top-1 class)`);
            },
            dispose: () => dist.dispose(),
          };
        },
        resumeCommand: (cfg, runsDir, version) => `slimnet distill --teacher ${cfg.teacher} --student ${cfg.student} --dataset ${cfg.dataset}${runsDir !== './runs' && runsDir !== 'runs' ? ` --runs-dir ${runsDir}` : ''} --version ${version}`,
      };
      const report = await runTraining(plan, {
        config,
        given,
        runsDir: spec.runsDir,
        resume: spec.resume,
        ...(dp ? { parallel: dp } : {}),
        resumed: (saved, version, progress) => {
          for (const [k, v] of [['teacher', teacher.path], ['student', config.student]] as const) {
            if (saved[k] !== undefined && saved[k] !== v) throw new UsageError(`version ${version} distilled ${k} ${JSON.stringify(saved[k])}, not ${JSON.stringify(v)}: --version resumes a run with its own configuration`);
          }
          if (spec.loss !== undefined && JSON.stringify((saved.losses ?? []).map((l) => l.name)) !== JSON.stringify(names)) {
            throw new UsageError(`version ${version} distilled with --loss ${(saved.losses ?? []).map((l) => l.name).join(',')}: --version resumes a run with its own configuration`);
          }
          const r = resumedConfig(saved, given, version, progress);
          return { config: { ...(saved as DistillConfig), ...r.config }, extendedFrom: r.extendedFrom };
        },
      }, observer);
      // The other ranks' run directories were temporary (removed): the export is rank 0's.
      const onnx = !dp || dp.rank === 0 ? await exportFinal(report, spec.exportOnnx, 'student.onnx', observer) : null;
      return {
        ...report,
        teacher: { path: teacher.path, kind: teacher.kind, params: tTotals.params, macs: tTotals.macs, test: teacherTest ? { accuracy: (teacherTest as Metrics).accuracy, balancedAccuracy: (teacherTest as Metrics).balancedAccuracy } : null },
        agreement: agree,
        trainingSeconds: report.history.reduce((a, h) => a + h.seconds, 0),
        cacheSeconds,
        onnx,
      };
    } finally {
      student.dispose?.();
    }
  } finally {
    teacher.model.dispose();
  }
}
