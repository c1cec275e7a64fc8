// The export workflow behind `slimnet export`: a zoo architecture (randomly
// initialised, built with the given options) or a checkpoint's model written
// to an ONNX file in eval mode with a dynamic batch dimension; `verify` runs
// the file in onnxruntime on a random batch and compares it with slimnet's
// own forward.
import { statSync } from 'node:fs';
import { Model, humanBytes, loadCheckpoint } from '../graph/index.js';
import { archDef, archNames, buildArch, type ArchOptions } from '../models/index.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, onnxNodeCount, saveOnnx } from '../export/onnx/export.js';
import { count } from '../report/format.js';
import { UsageError } from '../util/errors.js';
import type { Observer } from '../util/events.js';

export interface ExportSpec {
  /** A zoo architecture to export with random weights (either this or checkpoint). */
  arch?: string;
  /** A slimnet checkpoint to export. */
  checkpoint?: string;
  /** The .onnx file to write. */
  out?: string;
  /** Run the file in onnxruntime on a random batch of 2 and compare with slimnet. */
  verify?: boolean;
  /** Largest max abs difference verify accepts (default VERIFY_TOLERANCE). */
  tolerance?: number;
  /** ONNX opset, MIN_OPSET..MAX_OPSET (default DEFAULT_OPSET). */
  opset?: number;
  /** With arch: input height and width, classes, input channels, width multiplier, seed of the weights. */
  imageSize?: number;
  classes?: number;
  inChannels?: number;
  width?: number;
  seed?: number;
}

/** Largest |onnxruntime − slimnet| that verify accepts by default. */
export const VERIFY_TOLERANCE = 1e-4;

export interface ExportReport {
  /** The file written. */
  out: string;
  /** Its size in bytes. */
  bytes: number;
  /** ONNX nodes in its graph. */
  nodes: number;
  opset: number;
  /** Largest |onnxruntime − slimnet| on the random batch (present with verify; infinite when an output is not finite). */
  maxAbsDiff?: number;
  /**
   * What verify found wrong besides the difference, one line each (present
   * with verify; empty when none): outputs with NaN or infinite values
   * (NaN weights, an overflow) or of another shape.
   */
  problems?: string[];
  /** False only when verify found a difference above the tolerance. */
  ok: boolean;
}

const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

function check(o: ExportSpec): void {
  if (o.arch !== undefined && o.checkpoint !== undefined) throw new UsageError('give either --arch or --checkpoint, not both');
  if (o.arch === undefined && o.checkpoint === undefined) throw new UsageError(`give --arch NAME or --checkpoint PATH (architectures: ${archNames().join(', ')})`);
  if (!o.out) throw new UsageError('give --out PATH for the .onnx file');
  const archOnly = (['imageSize', 'classes', 'inChannels', 'width', 'seed'] as const).filter((k) => o[k] !== undefined);
  if (o.checkpoint !== undefined && archOnly.length) throw new UsageError(`${archOnly.map(flag).join(', ')} ${archOnly.length === 1 ? 'applies' : 'apply'} only to --arch (a checkpoint has fixed shapes and weights)`);
  for (const k of ['imageSize', 'classes', 'inChannels'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`${flag(k)} must be a positive integer, got ${v}`);
  }
  if (o.width !== undefined && !(Number.isFinite(o.width) && o.width > 0)) throw new UsageError(`--width must be a positive number, got ${o.width}`);
  if (o.tolerance !== undefined && !(Number.isFinite(o.tolerance) && o.tolerance >= 0)) throw new UsageError(`--tolerance must be a non-negative number, got ${o.tolerance}`);
  if (o.tolerance !== undefined && !o.verify) throw new UsageError('--tolerance only applies with --verify');
  const opset = o.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw new UsageError(`--opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  if (o.arch !== undefined && !archNames().includes(o.arch)) throw new UsageError(`unknown architecture '${o.arch}' (available: ${archNames().join(', ')})`);
}

function loadModel(o: ExportSpec): { model: Model; what: string } {
  if (o.arch !== undefined) {
    const opts: ArchOptions = { imageSize: o.imageSize, classes: o.classes, inChannels: o.inChannels, widthMultiplier: o.width };
    const model = Model.create(buildArch(o.arch, opts), { seed: o.seed ?? 0 });
    const d = { ...archDef(o.arch).defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    return { model, what: `architecture ${o.arch} (random weights, seed ${o.seed ?? 0}; ${d.inChannels}x${d.imageSize}x${d.imageSize} input, ${d.classes} classes)` };
  }
  return { model: loadCheckpoint(o.checkpoint!).model, what: `checkpoint ${o.checkpoint}` };
}

/** Writes (and with verify checks) the ONNX file; a failed verify is `ok: false`, not an error. */
export async function exportRun(spec: ExportSpec, observer: Observer = {}): Promise<ExportReport> {
  check(spec);
  const say = (line: string): void => observer.onLog?.(line);
  const opset = spec.opset ?? DEFAULT_OPSET;
  const out = spec.out!;
  const { model, what } = loadModel(spec);
  try {
    model.eval();
    const bytes = saveOnnx(model, out, { opset });
    const report: ExportReport = { out, bytes: statSync(out).size, nodes: onnxNodeCount(bytes), opset, ok: true };
    say(`${model.graph.name}: ${what}`);
    say(`wrote ${report.out}: ${humanBytes(report.bytes)} (${count(report.bytes)} bytes), ${report.nodes} ONNX nodes, opset ${opset}`);
    if (spec.verify) {
      // onnxruntime is loaded only when asked for.
      const { verifyOnnx } = await import('../export/onnx/verify.js');
      const r = await verifyOnnx(model, bytes, { batch: 2, seed: 0 });
      report.maxAbsDiff = r.maxAbsDiff;
      report.problems = [...r.problems];
      const tol = spec.tolerance ?? VERIFY_TOLERANCE;
      report.ok = r.maxAbsDiff <= tol && r.problems.length === 0;
      say(`verify: onnxruntime vs slimnet on a random batch of 2: max abs difference ${r.maxAbsDiff.toExponential(3)} (${report.ok ? 'ok' : 'FAILED'}, tolerance ${tol})`);
      // The difference alone says 'Infinity'; these say why (which output, which side, how many values).
      for (const p of r.problems) say(`verify: ${p}`);
    }
    return report;
  } finally {
    model.dispose();
  }
}
