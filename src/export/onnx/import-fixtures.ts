// The ONNX import fixtures (issue 14): small classifiers exported by PyTorch
// with random weights and randomised BatchNorm statistics, written by
// scripts/fixtures/make_onnx_fixtures.py into src/export/onnx/fixtures/import/
// with a manifest.json and, per model, a <model>.json holding one input batch
// and PyTorch's eval-mode output for it (see docs/fixtures.md).
//
// This module reads them and runs a file in onnxruntime, for the importer's
// tests and for verify-full.ts: compare the imported model against
// onnxruntime on the original file and against PyTorch's stored output.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { SlimnetError } from '../../util/errors.js';

/** Folder of the committed import fixtures. */
export const IMPORT_FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'import');

export interface ImportFixture {
  /** File name inside IMPORT_FIXTURES_DIR, e.g. 'resnet_tiny.op13.onnx'. */
  file: string;
  /** Model name; the reference is `${model}.json`. */
  model: string;
  reference: string;
  opset: number;
  /** Exported in eval mode with constant folding (BN folded into Conv); false keeps BatchNormalization and shape subgraphs. */
  fused: boolean;
  /** Input shape without the batch axis (C,H,W). */
  input_shape: number[];
  /** Batch of the reference input. */
  batch: number;
  /** Whether the file's batch axis is dynamic (false: fixed to `batch`). */
  dynamic_batch: boolean;
  output_shape: number[];
  /** ONNX op types in the file, sorted. */
  ops: string[];
  nodes: number;
  bytes: number;
  /** What the fixture exercises, in words. */
  exercises: string;
}

export interface ImportManifest {
  generator: string;
  torch_version: string;
  torchvision_version: string;
  onnx_version: string;
  opsets: number[];
  max_opset_of_this_torch: number | null;
  files: ImportFixture[];
  /** Variants the exporter refused, with its reason. */
  skipped: { file: string; reason: string }[];
}

export interface ImportReference {
  name: string;
  input_shape: number[];
  output_shape: number[];
  input: Float32Array;
  output: Float32Array;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SlimnetError(`ONNX import fixtures: cannot read ${path}: ${(e as Error).message} (regenerate with /usr/bin/python3 scripts/fixtures/make_onnx_fixtures.py)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SlimnetError(`ONNX import fixtures: ${path} is not JSON: ${(e as Error).message}`);
  }
}

/** The manifest of the committed fixtures (or of another folder written by the script). */
export function readImportManifest(dir = IMPORT_FIXTURES_DIR): ImportManifest {
  return readJson(join(dir, 'manifest.json')) as ImportManifest;
}

/** A fixture's reference batch and PyTorch output (float32). */
export function readImportReference(fixture: Pick<ImportFixture, 'reference'>, dir = IMPORT_FIXTURES_DIR): ImportReference {
  const path = join(dir, fixture.reference);
  const r = readJson(path) as { name: string; input_shape: number[]; output_shape: number[]; input: number[]; output: number[] };
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (r.input.length !== count(r.input_shape) || r.output.length !== count(r.output_shape)) {
    throw new SlimnetError(`ONNX import fixtures: ${path}: input or output length does not match its shape`);
  }
  return { name: r.name, input_shape: r.input_shape, output_shape: r.output_shape, input: Float32Array.from(r.input), output: Float32Array.from(r.output) };
}

/** The bytes of a fixture's .onnx file. */
export function readImportFixture(fixture: Pick<ImportFixture, 'file'>, dir = IMPORT_FIXTURES_DIR): Uint8Array {
  return readFileSync(join(dir, fixture.file));
}

/** Runs an ONNX file (bytes or path) in onnxruntime (CPU, one thread) on one float32 input; returns its first output. */
export async function runOnnxruntime(model: Uint8Array | string, input: Float32Array, shape: number[]): Promise<{ data: Float32Array; shape: number[] }> {
  const session = typeof model === 'string'
    ? await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 })
    : await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, shape) };
    const out = await session.run(feeds);
    const t = out[session.outputNames[0]!]!;
    return { data: t.data as Float32Array, shape: [...t.dims] };
  } finally {
    await session.release();
  }
}

export interface Difference {
  /** max |a − b|; Infinity on a length mismatch or a non-finite value on either side. */
  maxAbs: number;
  /** maxAbs / max(|b|) (b: the reference), the "max relative difference"; Infinity as maxAbs. */
  maxRel: number;
}

/** Max absolute and relative difference of `a` against the reference `b`. */
export function difference(a: ArrayLike<number>, b: ArrayLike<number>): Difference {
  if (a.length !== b.length) return { maxAbs: Infinity, maxRel: Infinity };
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return { maxAbs: Infinity, maxRel: Infinity };
    maxAbs = Math.max(maxAbs, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs };
}
