// What `explainRun` returns, and the tables made of it: the CSV files, the
// console summary of `slimnet explain` and report.html (explainPage). One
// meaning per key; the figures are on the images explained (a handful of the
// chosen split), not on a whole split.
import type { ClassSummary, Disagreement, PairComparison, SanityReport, TargetChoice } from '../explain/index.js';
import { METRIC_NOTES, explainHtml, type HtmlSection, type HtmlTable } from '../explain/html.js';
import { fmt } from '../report/format.js';

export interface ExplainModelInfo {
  /** Short label in file keys and tables: 'a' for --checkpoint, then 'b', 'c', ... for --compare in order. */
  name: string;
  checkpoint: string;
  /** The model's graph name (its architecture). */
  graph: string;
  /** The CAM target layer (node name), or null when no CAM method ran. */
  layer: string | null;
  /** The class each image was explained for. */
  targets: number[];
  /** The class the model predicts for each image. */
  predictions: number[];
  /** Of the explained images, the share it classifies correctly (its labels). */
  accuracy: number;
}

export interface ExplainMethodInfo {
  name: string;
  title: string;
  /** Where its raw maps live: the target layer's resolution (CAMs) or the input's. */
  resolution: 'layer' | 'input';
  /** Every parameter's value (defaults filled in). */
  params: Record<string, number>;
  /** Seconds spent on this method over all models (maps only, without the faithfulness curves). */
  seconds: number;
}

/** Faithfulness of one model's map of one image for one method. */
export interface FaithfulnessRow {
  /** Position in the explained batch (row of the grid). */
  image: number;
  /** Index of the image in the split. */
  index: number;
  label: number;
  model: string;
  method: string;
  target: number;
  /** Area under the deletion curve of the target's probability (lower: more faithful). */
  deletionAuc: number;
  /** Area under the insertion curve (higher: more faithful). */
  insertionAuc: number;
}

/** Means over the images of one model and method. */
export interface FaithfulnessSummary {
  model: string;
  method: string;
  meanDeletionAuc: number;
  meanInsertionAuc: number;
}

export interface ExplainFiles {
  /** The run directory (or --out). */
  dir: string;
  maps: string;
  /** The overlay grid of every image; absent when interrupted before any method finished. */
  grid?: string;
  /** The grid of the images the models disagree on (when there are some). */
  disagreementGrid?: string;
  html?: string;
  metrics: string;
  csv: string[];
}

export interface ExplainReport {
  /** Where everything was written. */
  files: ExplainFiles;
  /** Run version under runs/explain (null with --out). */
  version: number | null;
  dataset: string;
  split: 'train' | 'test';
  classes: string[];
  /** Indices of the explained images in the split, and their true labels. */
  indices: number[];
  labels: number[];
  /** What was explained per image: each model's prediction, the label, or one class. */
  target: TargetChoice;
  models: ExplainModelInfo[];
  methods: ExplainMethodInfo[];
  /** Per image x model x method (empty with faithfulness off). */
  faithfulness: FaithfulnessRow[];
  faithfulnessSummary: FaithfulnessSummary[];
  /** Per pair of models (a before b) and method: per-image Spearman and top-20 % IoU at the input resolution, and their means. */
  agreement: PairComparison[];
  /** Images on which the models do not all predict the same class. */
  disagreements: Disagreement[];
  /** Per true class: agreement of predictions, accuracy per model, mean map agreement per pair and method. */
  perClass: ClassSummary[];
  /** The model-randomisation check of each method on model a (empty without --sanity). */
  sanity: SanityReport[];
  /** What the methods warned about (all-negative CAMs set to zero, completeness gaps), prefixed with the model. */
  warnings: string[];
  /** Wall time of the whole call. */
  seconds: number;
  /** The signal stopped it: only the methods finished for every model are in the grids and tables. */
  interrupted: boolean;
}

const f4 = (v: number): number | string => fmt(v, 4);

/** Mean deletion / insertion AUC per model and method. */
export function summariseFaithfulness(rows: readonly FaithfulnessRow[]): FaithfulnessSummary[] {
  const groups = new Map<string, FaithfulnessRow[]>();
  for (const r of rows) {
    const k = `${r.model}\u0000${r.method}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  return [...groups.values()].map((g) => ({ model: g[0]!.model, method: g[0]!.method, meanDeletionAuc: mean(g.map((r) => r.deletionAuc)), meanInsertionAuc: mean(g.map((r) => r.insertionAuc)) }));
}

/** A table: headers and rows (for the CSV files, the console and the page). */
export interface Table {
  headers: string[];
  rows: (string | number)[][];
}

export function faithfulnessTable(r: ExplainReport): Table {
  return { headers: ['image', 'index', 'label', 'model', 'method', 'target', 'deletion_auc', 'insertion_auc'], rows: r.faithfulness.map((x) => [x.image, x.index, x.label, x.model, x.method, x.target, x.deletionAuc, x.insertionAuc]) };
}

export function faithfulnessSummaryTable(r: ExplainReport, digits = true): Table {
  return { headers: ['model', 'method', 'mean deletion AUC', 'mean insertion AUC'], rows: r.faithfulnessSummary.map((s) => [s.model, s.method, digits ? f4(s.meanDeletionAuc) : s.meanDeletionAuc, digits ? f4(s.meanInsertionAuc) : s.meanInsertionAuc]) };
}

export function agreementTable(r: ExplainReport): Table {
  const rows: (string | number)[][] = [];
  for (const p of r.agreement) p.spearman.forEach((s, i) => rows.push([i, r.indices[i]!, p.method, p.a, p.b, s, p.topIoU[i]!]));
  return { headers: ['image', 'index', 'method', 'model_a', 'model_b', 'spearman', 'top_iou'], rows };
}

export function agreementSummaryTable(r: ExplainReport, digits = true): Table {
  return { headers: ['models', 'method', 'mean Spearman', 'mean top-20 % IoU'], rows: r.agreement.map((p) => [`${p.a}|${p.b}`, p.method, digits ? f4(p.meanSpearman) : p.meanSpearman, digits ? f4(p.meanTopIoU) : p.meanTopIoU]) };
}

export function disagreementTable(r: ExplainReport): Table {
  const names = r.models.map((m) => m.name);
  return {
    headers: ['image', 'index', 'label', ...names.map((n) => `pred_${n}`)],
    rows: r.disagreements.map((d) => [d.image, r.indices[d.image]!, d.label ?? r.labels[d.image]!, ...names.map((n) => d.predictions[n]!)]),
  };
}

export function perClassTable(r: ExplainReport, digits = true): Table {
  const names = r.models.map((m) => m.name);
  const pairs = r.agreement.map((p) => `${p.a}|${p.b} ${p.method}`);
  const d = (v: number): number | string => (digits ? f4(v) : v);
  return {
    headers: ['class', 'name', 'images', 'prediction agreement', ...names.map((n) => `accuracy ${n}`), ...pairs.map((p) => `Spearman ${p}`), ...pairs.map((p) => `IoU ${p}`)],
    rows: r.perClass.map((c) => [
      c.cls,
      r.classes[c.cls] ?? '',
      c.images,
      d(c.agreement),
      ...names.map((n) => d(c.accuracy?.[n] ?? NaN)),
      ...c.pairs.map((p) => d(p.meanSpearman)),
      ...c.pairs.map((p) => d(p.meanTopIoU)),
    ]),
  };
}

export function sanityTable(r: ExplainReport, digits = true): Table {
  const rows: (string | number)[][] = [];
  const d = (v: number): number | string => (digits ? f4(v) : v);
  for (const s of r.sanity) s.steps.forEach((st, k) => rows.push([s.method, k + 1, st.layer, d(st.meanSpearman), d(st.meanSpearmanAbs)]));
  return { headers: ['method', 'step', 'randomised down to', 'mean Spearman', 'mean Spearman |map|'], rows };
}

/** The metric tables of report.html, each with its explanation. */
export function htmlTables(r: ExplainReport): { faithfulness: HtmlTable[]; agreement: HtmlTable[]; disagreements: HtmlTable[]; perClass: HtmlTable[]; sanity: HtmlTable[] } {
  const t = (caption: string, tb: Table, note?: string): HtmlTable => ({ caption, headers: tb.headers, rows: tb.rows, ...(note ? { note } : {}) });
  const perImage = faithfulnessTable(r);
  return {
    faithfulness: r.faithfulness.length
      ? [
          t('Mean over the images', faithfulnessSummaryTable(r), `${METRIC_NOTES.deletion} ${METRIC_NOTES.insertion}`),
          t('Per image', { headers: perImage.headers, rows: perImage.rows.map((row) => row.map((c, i) => (i >= 6 ? f4(c as number) : c))) }),
        ]
      : [],
    agreement: r.agreement.length ? [t('Mean over the images', agreementSummaryTable(r), `${METRIC_NOTES.spearman} ${METRIC_NOTES.iou}`)] : [],
    disagreements: r.models.length > 1 ? [t(`${r.disagreements.length} of ${r.indices.length} images`, disagreementTable(r), METRIC_NOTES.disagreement)] : [],
    perClass: [t('Per class (true label)', perClassTable(r))],
    sanity: r.sanity.length ? [t('Model randomisation of model a', sanityTable(r), METRIC_NOTES.sanity)] : [],
  };
}

/** report.html of a report, with its grids (PNG bytes). */
export function explainPage(r: ExplainReport, gridPng: Buffer, disagreePng: Buffer | undefined): string {
  const t = htmlTables(r);
  const targetText =
    typeof r.target === 'number' ? `class ${r.target} for every image` : r.target === 'label' ? 'the true label of each image' : "each model's own predicted class (compared models may explain different classes where they disagree; --target label compares them on the same class)";
  const sections: HtmlSection[] = [
    {
      heading: 'Overlays',
      paragraphs: [
        'Rows are images; after the input, each method has one column per model. The raw maps are drawn over the image (bilinear to the image size, alpha 0.5) with ONE colour scale per method across models and images: inferno from 0 to the largest value when the method gives no negative value, else blue (negative) to red (positive) around 0. Under each cell: the class explained, and the prediction where it differs.',
      ],
      figures: [{ caption: 'Every image', png: gridPng, alt: 'overlay grid' }],
    },
    { heading: 'Faithfulness', tables: t.faithfulness, ...(t.faithfulness.length ? {} : { paragraphs: ['Not computed (--no-faithfulness).'] }) },
  ];
  if (r.models.length > 1) {
    sections.push({ heading: 'Agreement between models', tables: t.agreement });
    sections.push({ heading: 'Disagreements', tables: t.disagreements, ...(disagreePng ? { figures: [{ caption: 'The images the models disagree on', png: disagreePng, alt: 'overlay grid of the disagreements' }] } : {}) });
  }
  sections.push({ heading: 'Per class', tables: t.perClass });
  if (t.sanity.length) sections.push({ heading: 'Sanity check', tables: t.sanity });
  return explainHtml({
    title: `slimnet explain: ${r.models.map((m) => m.graph).join(' vs ')} on ${r.dataset}/${r.split}`,
    facts: [
      ...r.models.map((m): [string, string] => [`model ${m.name}`, `${m.checkpoint} (${m.graph}${m.layer ? `, CAM layer ${m.layer}` : ''}; ${(m.accuracy * 100).toFixed(0)} % of these images right)`]),
      ['images', `${r.indices.length} of ${r.dataset}/${r.split}: ${r.indices.join(', ')}`],
      ['target', targetText],
      ['methods', r.methods.map((m) => `${m.name} (${Object.entries(m.params).map(([k, v]) => `${k}=${v}`).join(', ') || 'no parameters'})`).join('; ')],
      ...(r.interrupted ? [['status', 'interrupted: only the methods finished for every model are shown'] as [string, string]] : []),
    ],
    warnings: r.warnings,
    sections,
  });
}
