// The import workflow behind `slimnet import`: an ONNX file (any exporter's
// CNN) becomes an ordinary slimnet checkpoint (graph + weights, provenance
// `command: 'import'`, `source: <file>`); `verify` runs the original file in
// onnxruntime and the imported model in slimnet on the same random batch and
// reports the max abs and relative differences.
import { statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { Model, humanBytes, saveCheckpoint, summarize } from '../graph/index.js';
import { importOnnx, readOnnxFile, type OnnxImportReport } from '../export/onnx/import/import.js';
import { count } from '../report/format.js';
import { UsageError } from '../util/errors.js';
import type { Observer } from '../util/events.js';

export interface ImportSpec {
  /** The .onnx file to import. */
  model: string;
  /** The checkpoint to write (default: the model's path with .safetensors). */
  out?: string;
  /** Run the original in onnxruntime and the import in slimnet on a random batch of 2 and compare. */
  verify?: boolean;
  /** Per-sample input shape C,H,W, for files whose input dims are symbolic. */
  inputShape?: number[];
  /** Largest max relative difference verify accepts (default IMPORT_TOLERANCE). */
  tolerance?: number;
}

/** Largest max |ort − slimnet| / max |ort| that verify accepts by default. */
export const IMPORT_TOLERANCE = 1e-4;

export interface ImportReport {
  /** The ONNX file read and the checkpoint written. */
  model: string;
  out: string;
  /** Size of the checkpoint in bytes. */
  bytes: number;
  /** What the importer read and built (op types, kinds, folded constants). */
  onnx: OnnxImportReport;
  params: number;
  macs: number;
  /** Present with verify: largest |onnxruntime − slimnet| and that over the largest |onnxruntime| value. */
  maxAbsDiff?: number;
  maxRelDiff?: number;
  /** Present with verify: what it found wrong besides the difference (empty when none). */
  problems?: string[];
  /** False only when verify found a difference above the tolerance. */
  ok: boolean;
}

function check(s: ImportSpec): void {
  if (!s.model) throw new UsageError('give the .onnx file to import');
  if (s.inputShape !== undefined && !(s.inputShape.length >= 1 && s.inputShape.every((d) => Number.isInteger(d) && d >= 1))) {
    throw new UsageError(`--input-shape must be positive integers C,H,W, got ${s.inputShape.join(',')}`);
  }
  if (s.tolerance !== undefined && !(Number.isFinite(s.tolerance) && s.tolerance >= 0)) throw new UsageError(`--tolerance must be a non-negative number, got ${s.tolerance}`);
  if (s.tolerance !== undefined && !s.verify) throw new UsageError('--tolerance only applies with --verify');
}

/** The default checkpoint path: model.onnx → model.safetensors. */
export function defaultImportOut(model: string): string {
  const ext = extname(model);
  return `${ext ? model.slice(0, -ext.length) : model}.safetensors`;
}

/** Imports the file and writes the checkpoint (nothing is written when the import fails); a failed verify is `ok: false`, not an error. */
export async function importRun(spec: ImportSpec, observer: Observer = {}): Promise<ImportReport> {
  check(spec);
  const say = (line: string): void => observer.onLog?.(line);
  const out = spec.out ?? defaultImportOut(spec.model);
  // Read once: the import and --verify's onnxruntime session both need the bytes.
  const bytes = readOnnxFile(spec.model);
  const { graph, tensors, report: onnx } = importOnnx(bytes, { source: spec.model, inputShape: spec.inputShape, name: basename(spec.model, extname(spec.model)) });
  const model = Model.fromTensors(graph, tensors, `tensors imported from ${spec.model}`);
  try {
    model.eval();
    saveCheckpoint(out, model, { command: 'import', source: spec.model, arch: graph.name, producer: onnx.producer, opset: onnx.opset });
    const totals = summarize(graph).totals;
    const report: ImportReport = { model: spec.model, out, bytes: statSync(out).size, onnx, params: totals.params, macs: totals.macs, ok: true };
    say(`${spec.model}: ${onnx.onnxNodes} ONNX nodes (opset ${onnx.opset}${onnx.producer ? `, from ${onnx.producer}` : ''}), ${onnx.folded} folded into constants or removed (Identity, Dropout) → ${graph.nodes.length} slimnet nodes`);
    say(`wrote ${out}: ${humanBytes(report.bytes)} (${count(report.bytes)} bytes), ${count(totals.params)} parameters`);
    if (spec.verify) {
      const { verifyOnnx } = await import('../export/onnx/verify.js');
      const r = await verifyOnnx(model, bytes, { batch: 2, seed: 0 });
      const scale = r.outputs.reduce((m, o) => Math.max(m, ...Array.from(o.onnx, Math.abs)), 0);
      report.maxAbsDiff = r.maxAbsDiff;
      report.maxRelDiff = scale > 0 ? r.maxAbsDiff / scale : r.maxAbsDiff;
      report.problems = [...r.problems];
      const tol = spec.tolerance ?? IMPORT_TOLERANCE;
      report.ok = report.maxRelDiff <= tol && r.problems.length === 0;
      say(`verify: onnxruntime (original file) vs slimnet (imported) on a random batch of 2: max abs difference ${r.maxAbsDiff.toExponential(3)}, relative ${report.maxRelDiff.toExponential(3)} (${report.ok ? 'ok' : 'FAILED'}, tolerance ${tol})`);
      for (const p of r.problems) say(`verify: ${p}`);
    }
    return report;
  } finally {
    model.dispose();
  }
}
