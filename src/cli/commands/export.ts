// `slimnet export`: writes a zoo architecture (randomly initialised, built
// with the given options) or a checkpoint's model to an ONNX file, in eval
// mode, with a dynamic batch dimension. `--verify` runs the file in
// onnxruntime on a random batch and compares with slimnet's own forward.
import { UsageError } from '../errors.js';
import { statSync } from 'node:fs';
import { GraphError, Model } from '../../graph/index.js';
import { archDef, archNames, buildArch, type ArchOptions } from '../../models/index.js';
import { SlimnetError } from '../../tensor/index.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, onnxNodeCount, saveOnnx } from '../../export/onnx/export.js';
import { humanBytes } from '../../graph/summary.js';

export interface ExportOptions {
  arch?: string;
  checkpoint?: string;
  out?: string;
  verify?: boolean;
  /** Largest max abs difference --verify accepts (default VERIFY_TOLERANCE). */
  tolerance?: number;
  opset?: number;
  imageSize?: number;
  classes?: number;
  inChannels?: number;
  width?: number;
  seed?: number;
}

/** Largest |onnxruntime − slimnet| that `--verify` accepts by default. */
export const VERIFY_TOLERANCE = 1e-4;


export interface ExportReport {
  out: string;
  bytes: number;
  nodes: number;
  opset: number;
  /** Present with --verify. */
  maxAbsDiff?: number;
  ok: boolean;
}

const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

function checkOptions(o: ExportOptions): void {
  if (o.arch !== undefined && o.checkpoint !== undefined) throw new UsageError('give either --arch or --checkpoint, not both');
  if (o.arch === undefined && o.checkpoint === undefined) throw new UsageError(`give --arch NAME or --checkpoint PATH (architectures: ${archNames().join(', ')})`);
  if (!o.out) throw new UsageError('give --out PATH for the .onnx file');
  const archOnly = (['imageSize', 'classes', 'inChannels', 'width', 'seed'] as const).filter((k) => o[k] !== undefined);
  if (o.checkpoint !== undefined && archOnly.length) throw new UsageError(`${archOnly.map(flag).join(', ')} only apply to --arch (a checkpoint has fixed shapes and weights)`);
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

async function loadModel(o: ExportOptions): Promise<{ model: Model; what: string }> {
  if (o.arch !== undefined) {
    const opts: ArchOptions = { imageSize: o.imageSize, classes: o.classes, inChannels: o.inChannels, widthMultiplier: o.width };
    const model = Model.create(buildArch(o.arch, opts), { seed: o.seed ?? 0 });
    const d = { ...archDef(o.arch).defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    return { model, what: `architecture ${o.arch} (random weights, seed ${o.seed ?? 0}; ${d.inChannels}x${d.imageSize}x${d.imageSize} input, ${d.classes} classes)` };
  }
  // Imported lazily: the checkpoint reader is only needed for --checkpoint.
  let mod: typeof import('../../graph/checkpoint.js');
  try {
    mod = await import('../../graph/checkpoint.js');
  } catch (e) {
    throw new UsageError(`--checkpoint is not available in this build (src/graph/checkpoint.ts could not be loaded: ${(e as Error).message})`);
  }
  const { model } = mod.loadCheckpoint(o.checkpoint!);
  return { model, what: `checkpoint ${o.checkpoint}` };
}

/** Exports (and optionally verifies) without printing the summary line; throws on errors. */
export async function exportReport(o: ExportOptions, log: (line: string) => void = () => {}): Promise<ExportReport> {
  checkOptions(o);
  const opset = o.opset ?? DEFAULT_OPSET;
  const { model, what } = await loadModel(o);
  try {
    model.eval();
    const bytes = saveOnnx(model, o.out!, { opset });
    const report: ExportReport = { out: o.out!, bytes: statSync(o.out!).size, nodes: onnxNodeCount(bytes), opset, ok: true };
    log(`${model.graph.name}: ${what}`);
    log(`wrote ${report.out}: ${humanBytes(report.bytes)} (${report.bytes.toLocaleString('en-US')} bytes), ${report.nodes} ONNX nodes, opset ${opset}`);
    if (o.verify) {
      const { verifyOnnx } = await import('../../export/onnx/verify.js');
      const r = await verifyOnnx(model, bytes, { batch: 2, seed: 0 });
      report.maxAbsDiff = r.maxAbsDiff;
      const tol = o.tolerance ?? VERIFY_TOLERANCE;
      report.ok = r.maxAbsDiff <= tol;
      log(`verify: onnxruntime vs slimnet on a random batch of 2: max abs difference ${r.maxAbsDiff.toExponential(3)} (${report.ok ? 'ok' : 'FAILED'}, tolerance ${tol})`);
    }
    return report;
  } finally {
    model.dispose();
  }
}

/** The command: errors become one line on stderr and exit code 1, as does a failed --verify. */
export async function exportCommand(o: ExportOptions): Promise<void> {
  try {
    const r = await exportReport(o, (line) => process.stdout.write(`${line}\n`));
    if (!r.ok) process.exitCode = 1;
  } catch (e) {
    if (e instanceof UsageError || e instanceof GraphError || e instanceof SlimnetError) {
      process.stderr.write(`slimnet export: error: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
