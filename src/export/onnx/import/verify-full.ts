// Verification script for the ONNX importer (issue 14), not a test:
//
//   /usr/bin/python3 scripts/fixtures/make_onnx_fixtures.py --full /tmp/onnx-full
//   node --import tsx src/export/onnx/import/verify-full.ts /tmp/onnx-full
//   node --import tsx src/export/onnx/import/verify-full.ts            (the committed small fixtures)
//
// Imports every file the folder's manifest.json lists (made by
// make_onnx_fixtures.py), runs the imported model in slimnet (eval mode) and
// the original file in onnxruntime on the same random batch, and prints a
// table: import time, slimnet nodes, max abs / relative difference (relative:
// max abs over the largest |onnxruntime output|), and for fixtures with a
// stored PyTorch reference the difference against PyTorch. A file the
// importer refuses is a row with the first line of its error. Exit status 1
// when any file fails to import or differs by more than --tol (default 1e-4,
// relative).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../../../graph/index.js';
import { manualSeed, noGrad, randn, setNumThreads, tensor } from '../../../tensor/index.js';
import { difference, IMPORT_FIXTURES_DIR, readImportReference, runOnnxruntime } from '../import-fixtures.js';
import { importOnnx } from './import.js';

interface Entry {
  file: string;
  model: string;
  opset: number;
  status?: string;
  reference?: string;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

/** One row of the table: import time, nodes, differences and the verdict; throws what the importer throws. */
async function verifyOne(e: Entry, dir: string, tol: number): Promise<{ cells: string[]; ok: boolean }> {
  const path = join(dir, e.file);
  const t0 = performance.now();
  const { graph, tensors } = importOnnx(path);
  const ms = performance.now() - t0;
  const model = Model.fromTensors(graph, tensors, path).eval();
  try {
    const shape = graph.shape(graph.inputs[0]!.name);
    manualSeed(0);
    const ref = e.reference ? readImportReference({ reference: e.reference }, dir) : null;
    const batchShape = ref ? ref.input_shape : [1, ...shape];
    const input = ref ? tensor(ref.input, batchShape) : randn(batchShape);
    const data = input.data<'float32'>();
    const ours = noGrad(() => {
      const y = model.forward(input);
      const d = y.data<'float32'>();
      y.dispose();
      return d;
    });
    input.dispose();
    const ort = await runOnnxruntime(path, data, batchShape);
    const d = difference(ours, ort.data);
    const vsTorch = ref ? difference(ours, ref.output) : null;
    const ok = d.maxRel <= tol && (!vsTorch || vsTorch.maxRel <= tol);
    return { cells: [`${ms.toFixed(0)} ms`, String(graph.nodes.length), fmt(d.maxAbs), fmt(d.maxRel), vsTorch ? fmt(vsTorch.maxRel) : '-', ok ? 'ok' : 'DIFFERS'], ok };
  } finally {
    model.dispose();
  }
}

const WIDTHS = [34, 5, 8, 6, 9, 9, 14];

function line(cells: string[]): string {
  return cells.map((c, i) => (i < WIDTHS.length ? c.padEnd(WIDTHS[i]!) : c)).join('  ');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const tolAt = args.indexOf('--tol');
  const tol = tolAt >= 0 ? Number(args.splice(tolAt, 2)[1]) : 1e-4;
  const dir = args[0] ?? IMPORT_FIXTURES_DIR;
  setNumThreads(Number(process.env.SLIMNET_NUM_THREADS ?? 0) || 2);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Entry[] };
  console.log(line(['file', 'opset', 'import', 'nodes', 'max abs', 'max rel', 'vs PyTorch rel', 'result']));
  let failed = 0;
  let total = 0;
  for (const e of manifest.files) {
    if (e.status && e.status !== 'ok') continue;
    total++;
    let cells: string[];
    try {
      const r = await verifyOne(e, dir, tol);
      cells = r.cells;
      if (!r.ok) failed++;
    } catch (err) {
      failed++;
      const msg = (err as Error).message.split('\n').map((l) => l.trim()).join(' ');
      cells = ['-', '-', '-', '-', '-', `FAILED: ${msg.length > 300 ? `${msg.slice(0, 297)}...` : msg}`];
    }
    console.log(line([e.file, String(e.opset), ...cells]));
  }
  console.log(`\n${total - failed} of ${total} files import and match onnxruntime${dir === IMPORT_FIXTURES_DIR ? ' and PyTorch' : ''} (relative difference <= ${tol})`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
