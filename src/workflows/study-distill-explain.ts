// The distillation study's explanation: once every member has finished, the
// teacher of one seed (best.safetensors, the weights the students were
// distilled from) and that seed's students (final weights, the ones the
// table's test accuracy and agreement are measured on) go through
// `slimnet explain` (explainRun) on a few test images, each explained for its
// true label so every model explains the same class. explainRun writes into
// the study's explain/ folder; metrics.json there, written last, marks a
// finished explanation, so a resumed study does not compute it again.
// explainRun names the models a, b, c, ...; this file maps them back to the
// members (teacher, scratch, each loss) for results.json and report.md.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Run } from '../runs/index.js';
import type { Observer } from '../util/events.js';
import { explainRun } from './explain.js';
import type { ExplainReport } from './explain-report.js';
import type { DistillStudyConfig } from './study-distill-spec.js';
import { methodLabel, methodOrder, type MemberResult } from './study-distill-table.js';

/** The explanation's folder inside the study. */
export const STUDY_EXPLAIN_DIR = 'explain';

/** One explained model: explainRun's name for it and the study member it is. */
export interface StudyExplainedModel {
  /** explainRun's key in maps.safetensors, the CSV files and the grid's columns: 'a' (the teacher), then 'b', 'c', ... */
  name: string;
  /** The member: 'teacher-s0', 'scratch-s0', 'kd-s0'. */
  member: string;
  /** 'teacher', 'scratch' or the distillation loss. */
  method: string;
  /** 'teacher', 'student (scratch)', 'student + kd' (as in the study's table). */
  label: string;
  /** The checkpoint explained, relative to the study's directory. */
  checkpoint: string;
  /** CAM target layer (node name), null when no CAM method ran. */
  layer: string | null;
  /** Share of the explained images it classifies correctly. */
  accuracy: number;
  /** Explained images on which its prediction differs from the teacher's (null for the teacher). */
  disagreesWithTeacher: number | null;
}

/** The explanation summary recorded in results.json and drawn in report.md. */
export interface StudyExplanation {
  /** The study seed whose members were explained. */
  seed: number;
  /** Files relative to the study's directory: explain/, its grid (null when nothing was drawn), report.html and metrics.json (explainRun's whole report). */
  dir: string;
  grid: string | null;
  html: string | null;
  metrics: string;
  dataset: string;
  split: 'train' | 'test';
  /** Indices of the explained images in the split. */
  indices: number[];
  methods: string[];
  /** Teacher first, then scratch and each distilled student. */
  models: StudyExplainedModel[];
  /** Mean deletion / insertion AUC over the images, per member and method (deletion: lower is more faithful; insertion: higher). */
  faithfulness: { member: string; label: string; method: string; meanDeletionAuc: number; meanInsertionAuc: number }[];
  /** Teacher vs each student, per method: mean over the images of the maps' Spearman rank correlation and top-20 % IoU. */
  agreement: { teacher: string; student: string; label: string; method: string; meanSpearman: number; meanTopIoU: number }[];
  /** Explained images on which at least one student's prediction differs from the teacher's. */
  disagreementImages: number;
  /** Warnings of the methods (all-negative CAMs set to zero, completeness gaps), with explainRun's model names. */
  warnings: string[];
  /** Wall time of the explanation. */
  seconds: number;
}

/** The members explained, in explainRun's order (teacher, scratch, each loss), with the checkpoint of each. */
function explainedMembers(c: DistillStudyConfig, members: readonly MemberResult[]): { member: MemberResult; file: string }[] {
  return methodOrder(c.losses).flatMap((method) => {
    const m = members.find((x) => x.method === method && x.seed === c.explainSeed);
    return m ? [{ member: m, file: join(m.run, method === 'teacher' ? 'best.safetensors' : 'last.safetensors') }] : [];
  });
}

/** The member a checkpoint of explainRun's report belongs to (its path runs through members/<key>/). */
function memberOf(checkpoint: string, members: readonly MemberResult[]): MemberResult | undefined {
  const key = /(?:^|[\\/])members[\\/]([^\\/]+)[\\/]/.exec(checkpoint)?.[1];
  return members.find((m) => m.key === key);
}

/** The study's summary of explainRun's report: model names mapped to members, teacher-vs-student pairs only. */
export function studyExplanation(r: ExplainReport, study: string, seed: number, members: readonly MemberResult[]): StudyExplanation {
  const models = r.models.map((m): StudyExplainedModel => {
    const member = memberOf(m.checkpoint, members);
    const teacher = r.models[0]!;
    return {
      name: m.name,
      member: member?.key ?? m.name,
      method: member?.method ?? m.name,
      label: member ? methodLabel(member.method) : m.name,
      checkpoint: relative(study, m.checkpoint),
      layer: m.layer,
      accuracy: m.accuracy,
      disagreesWithTeacher: m === teacher ? null : m.predictions.filter((p, i) => p !== teacher.predictions[i]).length,
    };
  });
  const by = new Map(models.map((m) => [m.name, m]));
  const rel = (p: string | undefined): string | null => (p === undefined ? null : relative(study, p));
  const teacher = models[0]!;
  return {
    seed,
    dir: relative(study, r.files.dir),
    grid: rel(r.files.grid),
    html: rel(r.files.html),
    metrics: relative(study, r.files.metrics),
    dataset: r.dataset,
    split: r.split,
    indices: r.indices,
    methods: r.methods.map((m) => m.name),
    models,
    faithfulness: r.faithfulnessSummary.map((f) => ({ member: by.get(f.model)!.member, label: by.get(f.model)!.label, method: f.method, meanDeletionAuc: f.meanDeletionAuc, meanInsertionAuc: f.meanInsertionAuc })),
    agreement: r.agreement.filter((p) => p.a === teacher.name).map((p) => ({ teacher: teacher.member, student: by.get(p.b)!.member, label: by.get(p.b)!.label, method: p.method, meanSpearman: p.meanSpearman, meanTopIoU: p.meanTopIoU })),
    disagreementImages: r.disagreements.length,
    warnings: r.warnings,
    seconds: r.seconds,
  };
}

/** A finished explanation in the study (explain/metrics.json of an uninterrupted run), else null. */
export function readStudyExplanation(run: Run, c: DistillStudyConfig, members: readonly MemberResult[]): StudyExplanation | null {
  const metrics = join(run.file(STUDY_EXPLAIN_DIR), 'metrics.json');
  if (!existsSync(metrics)) return null;
  let r: ExplainReport;
  try {
    r = JSON.parse(readFileSync(metrics, 'utf8')) as ExplainReport;
  } catch {
    return null; // a torn file: the explanation runs again
  }
  return r.interrupted ? null : studyExplanation(r, run.path, c.explainSeed, members);
}

/**
 * The explanation of the study: read when explain/ holds a finished one, else
 * run (a partial explain/ from an interrupted call is removed first, so no
 * stale file survives). `interrupted`: the signal stopped it (nothing kept).
 */
export async function explainStudy(run: Run, c: DistillStudyConfig, members: readonly MemberResult[], observer: Observer): Promise<{ explanation: StudyExplanation | null; ran: boolean; interrupted: boolean }> {
  const done = readStudyExplanation(run, c, members);
  if (done) return { explanation: done, ran: false, interrupted: false };
  const models = explainedMembers(c, members);
  const dir = run.file(STUDY_EXPLAIN_DIR);
  rmSync(dir, { recursive: true, force: true });
  const [teacher, ...students] = models.map((m) => join(run.path, m.file));
  const r = await explainRun(
    { checkpoint: teacher!, compare: students, methods: c.explainMethods, images: c.explainImages, split: 'test', target: 'label', faithfulness: true, seed: c.explainSeed, out: dir },
    { ...(observer.signal ? { signal: observer.signal } : {}), ...(observer.onProgress ? { onProgress: observer.onProgress } : {}), ...(observer.onLog ? { onLog: (l: string) => observer.onLog!(`explain: ${l}`) } : {}) },
  );
  if (r.interrupted) return { explanation: null, ran: true, interrupted: true };
  return { explanation: studyExplanation(r, run.path, c.explainSeed, members), ran: true, interrupted: false };
}

// NaN (null once read back from JSON) reads n/a.
const f3 = (v: number | null): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : 'n/a');

/** report.md's section "What the models look at" (`note` says why there is no explanation when `e` is null). */
export function explanationMarkdown(e: StudyExplanation | null, note: string): string[] {
  const head = ['## What the models look at', ''];
  if (!e) return [...head, note, ''];
  const models = e.models;
  const teacher = models[0]!;
  const students = models.slice(1);
  const line = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [
    ...head,
    `The teacher of seed ${e.seed} (best.safetensors, the weights the students were distilled from) and the students of that seed (final weights: the table's test accuracy and agreement) explained by \`slimnet explain\` on the first ${e.indices.length} images of ${e.dataset}/${e.split}, each for its true label (the same class for every model), with ${e.methods.join(', ')}. The raw maps, the CSV tables and the page are in [${e.dir}/](${e.dir}/)${e.html ? `: [${e.html}](${e.html})` : ''}.`,
    '',
    ...(e.grid ? [`![explanations: images × methods × models](${e.grid})`, '', `Grid columns: ${models.map((m) => `${m.name} = ${m.label}`).join(', ')}. One colour scale per method across the models.`, ''] : []),
    'Faithfulness, mean over the images (deletion AUC: the target\'s probability as the most attributed pixels are removed, lower is more faithful; insertion AUC: as they are added, higher is more faithful):',
    '',
    line(['model', 'member', 'method', 'deletion AUC', 'insertion AUC']),
    line(['---', '---', '---', '---:', '---:']),
    ...e.faithfulness.map((f) => line([f.label, f.member, f.method, f3(f.meanDeletionAuc), f3(f.meanInsertionAuc)])),
    '',
    `Agreement with the teacher's maps, mean over the images (Spearman rank correlation of the maps at the input resolution; IoU of their top-20 % pixels):`,
    '',
    line(['models', 'method', 'Spearman', 'top-20 % IoU']),
    line(['---', '---', '---:', '---:']),
    ...e.agreement.map((a) => line([`${teacher.label} vs ${a.label}`, a.method, f3(a.meanSpearman), f3(a.meanTopIoU)])),
    '',
    `Predictions: the students disagree with the teacher on ${e.disagreementImages} of ${e.indices.length} images (${students.map((m) => `${m.label}: ${m.disagreesWithTeacher}`).join(', ')}); share right: ${models.map((m) => `${m.label} ${Math.round(m.accuracy * 100)} %`).join(', ')}.`,
    ...(e.warnings.length ? ['', `Warnings (${e.warnings.length}; model names as in the grid): ${e.warnings.join('; ')}.`] : []),
    '',
  ];
}
