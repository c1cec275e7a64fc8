// ONNX import (issue 14): how long importOnnx takes on each of the committed
// fixtures (src/export/onnx/fixtures/import, median of --repeats), and the
// training throughput of an imported resnet18 against the zoo's resnet18
// built in slimnet: the same architecture, one exported by slimnet and
// imported back (or --onnx FILE, e.g. torchvision's resnet18 written by
// scripts/fixtures/make_onnx_fixtures.py --full), trained in alternating
// rounds of --steps steps (forward + cross-entropy + backward + SGD momentum, train
// mode BatchNorm) on the same random batch.
// `--full DIR` (a `make_onnx_fixtures.py --full DIR` folder): also the import
// time of every .onnx file in DIR, and DIR/resnet18.op13.onnx (torchvision's)
// as the imported resnet18, against the zoo's built at its input size and
// class count. `train_ratio` = imported img/s /
// native img/s (≥ 0.95: an imported graph must not be slower).
//
// `--quick`: fewer repeats and steps, a smaller input (a check that it works).
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Model, summarize } from '../src/graph/index.js';
import { buildArch } from '../src/models/index.js';
import { exportOnnx } from '../src/export/onnx/export.js';
import { importOnnx } from '../src/export/onnx/import/import.js';
import { readImportFixture, readImportManifest } from '../src/export/onnx/import-fixtures.js';
import { F, engineInfo, getNumThreads, keep, manualSeed, randint, randn, setNumThreads, type Tensor } from '../src/tensor/index.js';
import { SGD } from '../src/train/optim/index.js';
import { timedTrainStep } from './lib/step.js';
import { fmt, median, parseArgs } from './lib/stats.js';

export const description = 'ONNX import: import time of each fixture, and training throughput of an imported resnet18 vs the zoo resnet18 (ratio >= 0.95)';

const DEFAULTS = {
  /** Timed imports per fixture. */
  repeats: 5,
  /** An ONNX resnet18 to import instead of slimnet's own export of the zoo's. */
  onnx: '',
  /** A make_onnx_fixtures.py --full folder: time every .onnx in it too; its resnet18.op13.onnx is the imported resnet18. */
  full: '',
  imageSize: 64,
  batch: 32,
  lr: 0.01,
  momentum: 0.9,
  /** Timed training steps per model per round, and rounds (alternating native, imported). */
  steps: 4,
  rounds: 3,
  warmup: 2,
  seed: 0,
  threads: 0,
  quick: false,
};
type Options = typeof DEFAULTS;
const QUICK: Partial<Options> = { repeats: 2, imageSize: 32, batch: 8, steps: 2, rounds: 2, warmup: 1 };

const ratio = (a: number, b: number): number => +(a / b).toFixed(4);

/** Median milliseconds of importing `bytes` `repeats` times (tensors freed each time), or the importer's error. */
function timeImport(bytes: Uint8Array, source: string, repeats: number): { ms: number | null; error?: string } {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    try {
      const r = importOnnx(bytes, { source });
      times.push(performance.now() - t0);
      for (const t of Object.values(r.tensors)) t.dispose();
    } catch (e) {
      return { ms: null, error: (e as Error).message.replace(/\n\s*/g, ' ') };
    }
  }
  return { ms: median(times) };
}

export async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv, DEFAULTS);
  const given = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())));
  const o: Options = parsed.quick ? { ...parsed, ...Object.fromEntries(Object.entries(QUICK).filter(([k]) => !given.has(k))) } : parsed;
  if (o.threads > 0) setNumThreads(o.threads);
  console.log(`import: libtorch ${engineInfo().torchVersion}, ${getNumThreads()} intra-op threads; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}${o.quick ? '; --quick' : ''}`);

  // 1. Import time per fixture.
  const fixtures: { file: string; ms: number | null; nodes: number; error?: string }[] = [];
  for (const f of readImportManifest().files) {
    const { ms: t, error } = timeImport(readImportFixture(f), f.file, o.repeats);
    const ms = t === null ? null : +t.toFixed(2);
    fixtures.push({ file: f.file, ms, nodes: f.nodes, ...(error ? { error } : {}) });
    console.log(`  ${f.file.padEnd(34)} ${String(f.nodes).padStart(4)} ONNX nodes  ${ms === null ? `unsupported (${error})` : `${fmt(ms, 2)} ms`}`);
  }

  // 1b. With --full DIR: every file of the torchvision set (fewer repeats: they are large).
  const full: { file: string; ms: number | null; mb: number; error?: string }[] = [];
  if (o.full) {
    const files = readdirSync(o.full).filter((f) => f.endsWith('.onnx')).sort();
    console.log(`${o.full}: ${files.length} files`);
    for (const f of files) {
      const bytes = readFileSync(join(o.full, f));
      const { ms: t, error } = timeImport(bytes, join(o.full, f), Math.min(o.repeats, 2));
      const ms = t === null ? null : +t.toFixed(1);
      const mb = +(bytes.length / 2 ** 20).toFixed(1);
      full.push({ file: f, ms, mb, ...(error ? { error: error.slice(0, 300) } : {}) });
      console.log(`  ${f.padEnd(34)} ${fmt(mb).padStart(6)} MiB  ${ms === null ? `unsupported (${error!.slice(0, 200)})` : `${fmt(ms, 1)} ms`}`);
    }
  }

  // 2. Training throughput: imported vs native resnet18 (the zoo's, at the imported file's input size and classes).
  const file = o.onnx || (o.full ? join(o.full, 'resnet18.op13.onnx') : '');
  let native = file ? null : Model.create(buildArch('resnet18', { imageSize: o.imageSize, classes: 10 }), { seed: o.seed });
  const t0 = performance.now();
  const { graph, tensors } = importOnnx(native ? exportOnnx(native.eval()) : file, o.onnx ? { inputShape: [3, o.imageSize, o.imageSize] } : {});
  const importMs = performance.now() - t0;
  const imported = Model.fromTensors(graph, tensors);
  if (!native) {
    const [c, h] = graph.shape(graph.inputs[0]!.name);
    native = Model.create(buildArch('resnet18', { inChannels: c!, imageSize: h!, classes: graph.shape(graph.outputs[0]!)[0]! }), { seed: o.seed });
  }
  native.train();
  imported.train();
  const shape = graph.shape(graph.inputs[0]!.name);
  const classes = graph.shape(graph.outputs[0]!)[0]!;
  manualSeed(o.seed);
  const x: Tensor = keep(randn([o.batch, ...shape]));
  const y: Tensor = keep(randint(0, classes, [o.batch]));
  const nets = { native: { model: native, opt: new SGD(native.parameters(), { lr: o.lr, momentum: o.momentum }) }, imported: { model: imported, opt: new SGD(imported.parameters(), { lr: o.lr, momentum: o.momentum }) } };
  const step = (k: keyof typeof nets) => timedTrainStep(nets[k].opt, () => F.crossEntropy(nets[k].model.forward(x), y));
  for (let i = 0; i < o.warmup; i++) for (const k of ['native', 'imported'] as const) step(k);
  const rates: Record<'native' | 'imported', number[]> = { native: [], imported: [] };
  for (let r = 0; r < o.rounds; r++) {
    for (const k of (r % 2 ? ['imported', 'native'] : ['native', 'imported']) as ('native' | 'imported')[]) {
      const s = performance.now();
      for (let i = 0; i < o.steps; i++) step(k);
      rates[k].push((o.steps * o.batch) / ((performance.now() - s) / 1000));
    }
  }
  const nativeImgS = median(rates.native);
  const importedImgS = median(rates.imported);
  const sN = summarize(native.graph).totals;
  const sI = summarize(graph).totals;
  console.log(`resnet18 ${shape.join('x')}, batch ${o.batch}: ${file || 'the zoo resnet18 exported by slimnet'} imported in ${fmt(importMs, 0)} ms (${graph.nodes.length} nodes, ${sI.params} params; native ${native.graph.nodes.length} nodes, ${sN.params} params)`);
  console.log(`training (SGD lr ${o.lr} momentum ${o.momentum}, train mode): native ${fmt(nativeImgS)} img/s, imported ${fmt(importedImgS)} img/s, ratio ${ratio(importedImgS, nativeImgS)} (target >= 0.95)`);
  x.dispose();
  y.dispose();
  native.dispose();
  imported.dispose();
  console.log(
    JSON.stringify({
      bench: 'import',
      fixtures,
      ...(o.full ? { full } : {}),
      resnet18: { source: file || 'slimnet export of the zoo resnet18', input: shape, batch: o.batch, import_ms: +importMs.toFixed(1), native_img_s: +nativeImgS.toFixed(2), imported_img_s: +importedImgS.toFixed(2), train_ratio: ratio(importedImgS, nativeImgS) },
      threads: getNumThreads(),
      quick: o.quick,
    }),
  );
}
