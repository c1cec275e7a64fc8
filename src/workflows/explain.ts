// The explanation workflow behind `slimnet explain`: what a model (and the
// models compared with it: pruned, distilled, a smaller student) looks at on
// a few images, measured and compared. Models are checked, layers and methods
// resolved, and the images loaded before anything is written; then every
// method runs on every model (one progress task), its raw maps and
// faithfulness curves are kept, the models' maps are compared, and the run
// directory gets maps.safetensors, the overlay grids, the metric tables
// (CSV + metrics.json) and report.html.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { datasetNames, evalTransform, loadDataset, normalizationFor, readProvenance, recordedClassSubset, selectClasses, type Dataset, type DatasetName, type NormalizeSpec, type Sample } from '../data/index.js';
import { loadCheckpoint, type Model } from '../graph/index.js';
import { tensor, type Tensor, saveTensors, tidy } from '../tensor/index.js';
import {
  ExplainError,
  checkSameInput,
  compareModels,
  deletionInsertion,
  explainer,
  modelRandomisation,
  resolveTargets,
  spatialNodes,
  targetLayer,
  autoTargetLayer,
  type NamedModel,
  type SanityReport,
  type ComparisonReport,
} from '../explain/index.js';
import { colorScale, renderGrid, type GridMethod, type ImageArray } from '../explain/render.js';
import { Run, RunLog, toCsv, writeJson } from '../runs/index.js';
import { atomicWriteFile } from '../util/atomic-write.js';
import { permutation } from '../util/rng.js';
import { UsageError } from '../util/errors.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { resolveExplainSpec, type ExplainSpec, type ResolvedExplainSpec } from './explain-spec.js';
import {
  agreementTable,
  disagreementTable,
  faithfulnessTable,
  explainPage,
  perClassTable,
  sanityTable,
  summariseFaithfulness,
  type ExplainMethodInfo,
  type ExplainModelInfo,
  type ExplainReport,
  type FaithfulnessRow,
} from './explain-report.js';

export { resolveExplainSpec, parseMethodParams, parseTarget, DEFAULT_EXPLAIN_METHODS, EXPLAIN_DEFAULTS, type ExplainSpec, type ResolvedExplainSpec } from './explain-spec.js';
export { summariseFaithfulness, type ExplainReport, type ExplainModelInfo, type ExplainMethodInfo, type ExplainFiles, type FaithfulnessRow, type FaithfulnessSummary } from './explain-report.js';

/** Where files go: a versioned run directory, or --out. */
interface Sink {
  dir: string;
  version: number | null;
  say(line: string): void;
  write(name: string, bytes: Uint8Array | string): string;
  done(interrupted: boolean): void;
  fail(e: unknown): void;
}

function runSink(run: Run): Sink {
  return {
    dir: run.path,
    version: run.version,
    say: (l) => run.say(l),
    write: (name, bytes) => (typeof bytes === 'string' ? run.writeText(name, bytes) : (atomicWriteFile(run.file(name), bytes), run.file(name))),
    done: (interrupted) => (interrupted ? run.interrupt() : run.complete()),
    fail: (e) => run.fail(e),
  };
}

function dirSink(dir: string): Sink {
  mkdirSync(dir, { recursive: true });
  const log = new RunLog(join(dir, 'run.log'));
  const write = (name: string, bytes: Uint8Array | string): string => {
    const p = join(dir, name);
    atomicWriteFile(p, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    return p;
  };
  return { dir, version: null, say: (l) => log.write(l), write, done: () => undefined, fail: () => undefined };
}

interface Loaded extends NamedModel {
  checkpoint: string;
  meta: Record<string, unknown>;
  layer: string | null;
}

/** Loads every checkpoint (a missing one fails before anything is written), refuses different input shapes, resolves the CAM layers. */
function loadModels(s: ResolvedExplainSpec, usesLayer: boolean): Loaded[] {
  const out: Loaded[] = [];
  try {
    s.checkpoints.forEach((checkpoint, i) => {
      const { model, meta } = loadCheckpoint(checkpoint);
      model.eval();
      out.push({ name: String.fromCharCode(97 + i), model, checkpoint, meta, layer: null });
    });
    checkSameInput(out.map((m) => ({ name: `${m.name} (${m.checkpoint})`, model: m.model })));
    if (usesLayer) {
      out[0]!.layer = targetLayer(out[0]!.model.graph, s.layer);
      for (const m of out.slice(1)) {
        // --layer names a node of model a; a compared model uses it only where it is a spatial node of its own.
        m.layer = s.layer !== undefined && spatialNodes(m.model.graph).includes(s.layer) ? s.layer : autoTargetLayer(m.model.graph);
      }
    }
    return out;
  } catch (e) {
    for (const m of out) m.model.dispose();
    throw e;
  }
}

interface Images {
  dataset: string;
  classes: string[];
  indices: number[];
  labels: number[];
  raw: ImageArray[];
  norm: NormalizeSpec;
  trainSet: () => Dataset;
}

/** The images to explain, from model a's data (as `slimnet eval` reads it). */
function loadImages(s: ResolvedExplainSpec, a: Loaded): Images {
  const p = readProvenance(a.meta, a.checkpoint);
  const dataset = s.dataset ?? p.dataset;
  if (dataset === undefined) throw new UsageError(`${a.checkpoint} does not say which data set it was trained on: pass --dataset (${datasetNames().join(', ')})`);
  if (!datasetNames().includes(dataset)) throw new UsageError(`unknown data set '${dataset}' (known: ${datasetNames().join(', ')})`);
  const sameData = s.dataset === undefined || s.dataset === p.dataset;
  const root = s.root ?? (s.dataset === undefined && typeof p.root === 'string' ? p.root : undefined);
  const inShape = a.model.graph.shape(a.model.graph.inputs[0]!.name);
  const imageSize = dataset === 'folder' ? ((sameData ? p.imageSize : null) ?? ([inShape[1]!, inShape[2]!] as const)) : undefined;
  const opts = { ...(root !== undefined ? { root } : {}), ...(imageSize !== undefined ? { imageSize } : {}) };
  // A model trained on some of the data set's classes sees those, relabelled in its order (labels are --target label's classes).
  const subset = recordedClassSubset(p, dataset);
  const load = (split: 'train' | 'test'): Dataset => {
    const whole = loadDataset(dataset as DatasetName, split, opts);
    return subset ? selectClasses(whole, subset) : whole;
  };
  const ds = load(s.split);
  if (inShape.join() !== ds.sampleShape.join()) throw new UsageError(`the checkpoint's input is [${inShape.join(', ')}], ${dataset} samples are [${ds.sampleShape.join(', ')}]`);
  const norm = p.normalize && sameData ? p.normalize : normalizationFor(dataset, ds.sampleShape[0]!);
  const indices = s.indices ?? Array.from({ length: Math.min(s.images!, ds.length) }, (_, i) => i);
  for (const i of indices) if (i >= ds.length) throw new UsageError(`--indices: image ${i} is not in ${dataset}/${s.split} (${ds.length} images)`);
  const samples: Sample[] = indices.map((i) => ds.get(i));
  const [c, h, w] = ds.sampleShape;
  return {
    dataset,
    classes: [...ds.classes],
    indices,
    labels: samples.map((x) => x.label),
    raw: samples.map((x) => ({ data: x.image, channels: c, height: h, width: w })),
    norm,
    trainSet: () => (s.split === 'train' ? ds : load('train')),
  };
}

/** Images [N, C, H, W] normalised as the models expect. */
function batchOf(images: readonly Float32Array[], shape: readonly number[], norm: NormalizeSpec): Tensor {
  const t = evalTransform(norm);
  const [c, h, w] = shape as [number, number, number];
  const data = new Float32Array(images.length * c * h * w);
  images.forEach((img, i) => data.set(t.apply({ data: Float32Array.from(img), shape: [c, h, w] }, { rand: Math.random, index: i, epoch: 0 }).data, i * c * h * w));
  return tensor(data, [images.length, c, h, w]);
}

const aborted = (signal: AbortSignal | undefined, e: unknown): boolean => signal?.aborted === true && (e === signal.reason || e instanceof DOMException);

/** Explains model a (and the compared models) on a few images; see ExplainSpec. An interrupted call returns what it finished with interrupted: true. */
export async function explainRun(spec: ExplainSpec, observer: Observer = {}): Promise<ExplainReport> {
  const t0 = performance.now();
  const s = resolveExplainSpec(spec);
  const methods = s.methods.map((m) => explainer(m));
  const models = loadModels(s, methods.some((m) => m.usesLayer));
  const tensors: Tensor[] = [];
  const maps: Record<string, Record<string, Tensor>> = {};
  let sink: Sink | undefined;
  try {
    const a = models[0]!;
    const imgs = loadImages(s, a);
    const shape = a.model.graph.shape(a.model.graph.inputs[0]!.name);
    const x = batchOf(imgs.raw.map((r) => r.data), shape, imgs.norm);
    tensors.push(x);
    const needsBackground = methods.some((m) => m.needsBackground);
    let background: Tensor | undefined;
    if (needsBackground) {
      const train = imgs.trainSet();
      const pick = Array.from(permutation(train.length, s.seed).slice(0, Math.min(s.background, train.length)));
      background = batchOf(pick.map((i) => train.get(i).image), shape, imgs.norm);
      tensors.push(background);
    }
    const k = a.model.graph.shape(a.model.graph.outputs[0]!)[0]!;
    if (typeof s.target === 'number' && s.target >= k) throw new ExplainError(`--target ${s.target} is not a class of ${a.model.graph.name} (0..${k - 1})`);
    const targets = models.map((m) => resolveTargets(m.model, x, s.target, imgs.labels));

    // Everything is checked: from here on files are written.
    const arch = readProvenance(a.meta, a.checkpoint).arch ?? a.model.graph.name;
    sink = s.out !== undefined ? dirSink(s.out) : runSink(Run.create({ root: s.runsDir, command: 'explain', dataset: imgs.dataset, arch }, { ...s, dataset: imgs.dataset, arch }));
    const out = sink;
    const say = (line: string): void => {
      out.say(line);
      observer.onLog?.(line);
    };
    for (const m of models) say(`model ${m.name}: ${m.checkpoint} (${m.model.graph.name}${m.layer ? `, CAM layer ${m.layer}` : ''})`);
    say(`${imgs.indices.length} images of ${imgs.dataset}/${s.split} (indices ${imgs.indices.join(', ')}); target: ${typeof s.target === 'number' ? `class ${s.target}` : s.target === 'label' ? 'the true label' : "each model's own prediction"}`);
    if (s.target === 'predicted' && models.length > 1) say('note: each model explains its own predicted class, so compared models may explain different classes where they disagree (--target label compares on the same class)');

    const warnings: string[] = [];
    const faithRows: FaithfulnessRow[] = [];
    const methodInfo: ExplainMethodInfo[] = [];
    const task = new ProgressTask(observer.onProgress, { id: 'explain', label: 'explain', total: methods.length * models.length, unit: 'maps' });
    let interrupted = false;
    // Method by method, so an interruption leaves whole methods (every model) behind.
    methods: for (const e of methods) {
      let seconds = 0;
      let resolution: 'layer' | 'input' = e.usesLayer ? 'layer' : 'input';
      for (const [mi, m] of models.entries()) {
        if (observer.signal?.aborted) {
          interrupted = true;
          break methods;
        }
        try {
          const t1 = performance.now();
          const r = await e.explain({ model: m.model, x, targets: targets[mi]!, layer: m.layer ?? '', seed: s.seed, ...(background ? { background } : {}), ...(observer.signal ? { signal: observer.signal } : {}) }, s.params[e.name]!);
          seconds += (performance.now() - t1) / 1000;
          tensors.push(r.maps);
          resolution = r.resolution;
          (maps[e.name] ??= {})[m.name] = r.maps;
          for (const w of r.warnings) {
            warnings.push(`${m.name}: ${w}`);
            say(`warning: ${m.name}: ${w}`);
          }
          if (s.faithfulness) {
            const f = deletionInsertion(m.model, x, targets[mi]!, r.maps, observer.signal ? { signal: observer.signal } : {});
            imgs.indices.forEach((index, i) =>
              faithRows.push({ image: i, index, label: imgs.labels[i]!, model: m.name, method: e.name, target: targets[mi]![i]!, deletionAuc: f.deletion.auc[i]!, insertionAuc: f.insertion.auc[i]! }),
            );
          }
        } catch (err) {
          if (!aborted(observer.signal, err)) throw err;
          interrupted = true;
          break methods;
        }
        task.tick(1, `${e.name} ${m.name}`);
      }
      methodInfo.push({ name: e.name, title: e.title, resolution, params: s.params[e.name]!, seconds });
    }
    task.end();
    // Only methods every model finished are compared and drawn.
    const complete = methodInfo.filter((mi) => models.every((m) => maps[mi.name]?.[m.name]));
    const faithfulness = faithRows.filter((r) => complete.some((c) => c.name === r.method));

    const comparison: ComparisonReport = compareModels({
      models: models.map((m) => ({ name: m.name, model: m.model })),
      x,
      labels: imgs.labels,
      maps: Object.fromEntries(complete.map((c) => [c.name, maps[c.name]!])),
    });

    const sanity: SanityReport[] = [];
    if (s.sanity && !interrupted) {
      for (const e of methods) {
        try {
          say(`sanity check: ${e.name} on model a`);
          sanity.push(await modelRandomisation(a.model, e, x, targets[0]!, { params: s.params[e.name]!, ...(a.layer ? { layer: a.layer } : {}), ...(background ? { background } : {}), seed: s.seed, ...(observer.signal ? { signal: observer.signal } : {}) }));
        } catch (err) {
          if (!aborted(observer.signal, err)) throw err;
          interrupted = true;
          break;
        }
      }
    }

    const report: ExplainReport = {
      files: { dir: out.dir, maps: join(out.dir, 'maps.safetensors'), metrics: join(out.dir, 'metrics.json'), csv: [] },
      version: out.version,
      dataset: imgs.dataset,
      split: s.split,
      classes: imgs.classes,
      indices: imgs.indices,
      labels: imgs.labels,
      target: s.target,
      models: models.map((m, i): ExplainModelInfo => ({
        name: m.name,
        checkpoint: m.checkpoint,
        graph: m.model.graph.name,
        layer: m.layer,
        targets: targets[i]!,
        predictions: comparison.predictions[m.name]!,
        accuracy: comparison.predictions[m.name]!.filter((p, j) => p === imgs.labels[j]).length / imgs.indices.length,
      })),
      methods: methodInfo,
      faithfulness,
      faithfulnessSummary: summariseFaithfulness(faithfulness),
      agreement: comparison.pairs,
      disagreements: comparison.disagreements,
      perClass: comparison.perClass,
      sanity,
      warnings,
      seconds: 0,
      interrupted,
    };
    await writeOutputs(out, report, x, imgs, maps, complete.map((c) => c.name), say);
    report.seconds = (performance.now() - t0) / 1000;
    out.write('metrics.json', `${JSON.stringify(report, null, 2)}\n`);
    say(`${interrupted ? 'interrupted; wrote what was finished to' : 'wrote'} ${out.dir} in ${report.seconds.toFixed(1)} s`);
    out.done(interrupted);
    return report;
  } catch (e) {
    sink?.fail(e);
    throw e;
  } finally {
    for (const t of tensors) t.dispose();
    for (const m of models) m.model.dispose();
  }
}

/** maps.safetensors, the grids, the CSV tables and report.html (metrics.json is written last by the caller); `drawn`: the methods every model finished. */
async function writeOutputs(out: Sink, r: ExplainReport, x: Tensor, imgs: Images, maps: Record<string, Record<string, Tensor>>, drawn: string[], say: (l: string) => void): Promise<void> {
  // maps.safetensors: the normalised batch, each model's targets (int64) and every raw map (float32), with what produced them.
  const named: Record<string, Tensor> = { input: x };
  const owned: Tensor[] = [];
  try {
    for (const m of r.models) {
      const t = tensor(BigInt64Array.from(m.targets, (v) => BigInt(v)), [m.targets.length]);
      owned.push(t);
      named[`targets.${m.name}`] = t;
    }
    for (const method of drawn) for (const m of r.models) named[`${m.name}.${method}`] = maps[method]![m.name]!;
    const meta: Record<string, string> = {
      models: JSON.stringify(r.models.map((m) => ({ name: m.name, checkpoint: m.checkpoint, graph: m.graph, layer: m.layer }))),
      methods: JSON.stringify(Object.fromEntries(r.methods.map((m) => [m.name, { resolution: m.resolution, params: m.params }]))),
      dataset: r.dataset,
      split: r.split,
      indices: JSON.stringify(r.indices),
      labels: JSON.stringify(r.labels),
      target: String(r.target),
      model_labels: "model keys are 'a' for --checkpoint, then 'b', 'c', ... for --compare in order",
    };
    for (const m of r.models) {
      meta[`${m.name}.checkpoint`] = m.checkpoint;
      if (m.layer) meta[`${m.name}.layer`] = m.layer;
    }
    saveTensors(r.files.maps, named, meta);
  } finally {
    for (const t of owned) t.dispose();
  }

  // CSV tables.
  const csv = (name: string, t: { headers: string[]; rows: (string | number)[][] }): void => {
    r.files.csv.push(out.write(name, toCsv(t.headers, t.rows)));
  };
  if (r.faithfulness.length) csv('faithfulness.csv', faithfulnessTable(r));
  if (r.agreement.length) csv('agreement.csv', agreementTable(r));
  if (r.models.length > 1) csv('disagreements.csv', disagreementTable(r));
  csv('per_class.csv', perClassTable(r, false));
  if (r.sanity.length) csv('sanity.csv', sanityTable(r, false));

  if (drawn.length === 0) return;
  const grid = async (rows: number[], title: string): Promise<Buffer> => {
    const data: Record<string, Record<string, Float32Array[]>> = {};
    const methods: GridMethod[] = drawn.map((method) => {
      const columns = r.models.map((m) => {
        const t = maps[method]![m.name]!;
        const [, h, w] = t.shape as [number, number, number];
        const all = tidy(() => t.to('float32').data<'float32'>());
        const per = Array.from({ length: t.size(0) }, (_, i) => all.subarray(i * h * w, (i + 1) * h * w));
        (data[method] ??= {})[m.name] = per;
        return { model: m.name, maps: rows.map((i) => per[i]!), height: h, width: w };
      });
      // One scale per method over every model and every image (not only the rows drawn), so the grids agree.
      return { name: method, scale: colorScale(Object.values(data[method]!).flat()), columns };
    });
    return renderGrid({
      title,
      images: rows.map((i) => imgs.raw[i]!),
      rowLabels: rows.map((i) => `#${r.indices[i]}\nlabel ${r.labels[i]}`),
      captions: rows.map((i) => Object.fromEntries(r.models.map((m) => [m.name, m.targets[i] === m.predictions[i] ? `class ${m.targets[i]}` : `t ${m.targets[i]} (pred ${m.predictions[i]})`]))),
      methods,
    });
  };
  const all = r.indices.map((_, i) => i);
  // File names when they tell the models apart (best.safetensors of two runs do not), else the paths.
  const stems = r.models.map((m) => basename(m.checkpoint));
  const unique = new Set(stems).size === stems.length;
  const legend = `models: ${r.models.map((m, i) => `${m.name} = ${unique ? stems[i] : m.checkpoint}`).join(', ')}`;
  const gridPng = await grid(all, legend);
  r.files.grid = out.write('grid.png', gridPng);
  let disagreePng: Buffer | undefined;
  if (r.disagreements.length) {
    disagreePng = await grid(r.disagreements.map((d) => d.image), `images the models disagree on; ${legend}`);
    r.files.disagreementGrid = out.write('disagreements.png', disagreePng);
  }
  r.files.html = out.write('report.html', explainPage(r, gridPng, disagreePng));
  say(`wrote ${r.files.grid}${r.files.disagreementGrid ? `, ${r.files.disagreementGrid}` : ''} and ${r.files.html}`);
}
