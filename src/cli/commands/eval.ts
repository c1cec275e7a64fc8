// `slimnet eval --checkpoint PATH`: accuracy, balanced accuracy, recall per
// class and the confusion matrix of a checkpoint on a data set split. The
// data set and its normalisation default to what the checkpoint was trained
// with (its metadata, written by `slimnet train`).
import { DataLoader, datasetNames, loadDataset, type DatasetName, type Split } from '../../data/index.js';
import { GraphError, loadCheckpoint } from '../../graph/index.js';
import { SlimnetError } from '../../tensor/index.js';
import { evaluate } from '../../train/index.js';
import { UsageError } from '../errors.js';
import { renderTable } from '../../report/table.js';
import { evalTransform, normalizationFor, type NormalizeSpec } from '../../data/index.js';
import { pct } from '../../report/format.js';

export interface EvalOptions {
  checkpoint: string;
  dataset?: string;
  root?: string;
  split: string;
  batchSize: number;
  json?: boolean;
}

export async function evalCommand(o: EvalOptions): Promise<number> {
  try {
    return await run(o);
  } catch (e) {
    if (e instanceof UsageError || e instanceof GraphError || e instanceof SlimnetError || e instanceof RangeError || (e as Error).name === 'DataError') {
      process.stderr.write(`slimnet eval: error: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

async function run(o: EvalOptions): Promise<number> {
  if (o.split !== 'train' && o.split !== 'test') throw new UsageError(`--split must be train or test, got '${o.split}'`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) throw new UsageError(`--batch-size must be a positive integer`);
  const { model, meta } = loadCheckpoint(o.checkpoint);
  try {
    const dataset = o.dataset ?? (typeof meta.dataset === 'string' ? meta.dataset : undefined);
    if (dataset === undefined) throw new UsageError(`the checkpoint does not say which data set it was trained on: pass --dataset (${datasetNames().join(', ')})`);
    if (!datasetNames().includes(dataset)) throw new UsageError(`unknown data set '${dataset}' (known: ${datasetNames().join(', ')})`);
    const root = o.root ?? (o.dataset === undefined && typeof meta.root === 'string' ? meta.root : undefined);
    const ds = loadDataset(dataset as DatasetName, o.split as Split, root !== undefined ? { root } : {});
    const inShape = model.graph.shape(model.graph.inputs[0]!.name);
    if (inShape.length !== ds.sampleShape.length || inShape.some((d, i) => d !== ds.sampleShape[i])) {
      throw new UsageError(`the checkpoint's input is [${inShape.join(', ')}], ${dataset} samples are [${ds.sampleShape.join(', ')}]`);
    }
    const norm: NormalizeSpec =
      meta.normalize && typeof meta.normalize === 'object' && o.dataset === undefined ? (meta.normalize as NormalizeSpec) : normalizationFor(dataset, ds.sampleShape[0]);
    const loader = new DataLoader(ds, { batchSize: o.batchSize, transform: evalTransform(norm) });
    const t0 = performance.now();
    let m;
    try {
      m = await evaluate(model, loader, ds.classes);
    } finally {
      await loader.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (m.perClassRecall.length !== ds.classes.length) throw new UsageError(`the checkpoint predicts ${m.perClassRecall.length} classes, ${dataset} has ${ds.classes.length}`);
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ checkpoint: o.checkpoint, dataset, split: o.split, count: m.count, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, top5: m.top5, loss: m.loss, classes: ds.classes, perClassRecall: m.perClassRecall, confusion: m.confusion })}\n`,
      );
      return 0;
    }
    const support = m.confusion.map((row) => row.reduce((a, b) => a + b, 0));
    const predicted = ds.classes.map((_, j) => m.confusion.reduce((a, row) => a + row[j]!, 0));
    const lines = [
      `${o.checkpoint} on ${dataset}/${o.split} (${m.count} images, ${seconds.toFixed(1)} s)`,
      '',
      `accuracy           ${pct(m.accuracy)} %`,
      `balanced accuracy  ${pct(m.balancedAccuracy)} %`,
      `top-5 accuracy     ${pct(m.top5)} %`,
      `loss               ${m.loss.toFixed(4)}`,
      '',
      'per class:',
      renderTable(
        ['#', 'class', 'support', 'correct', 'recall %', 'precision %'],
        ds.classes.map((c, i) => [i, c, support[i]!, m.confusion[i]![i]!, pct(m.perClassRecall[i]!), predicted[i]! > 0 ? pct(m.confusion[i]![i]! / predicted[i]!) : '']),
      ),
      '',
      'confusion matrix (rows: true class, columns: predicted class, by #):',
      renderTable(
        ['true \\ pred', ...ds.classes.map((_, j) => String(j))],
        m.confusion.map((row, i) => [`${i} ${ds.classes[i]}`, ...row]),
      ),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    model.dispose();
  }
}
