// ONNX import: an ONNX ModelProto (any exporter's CNN) becomes a slimnet graph
// and its tensors, built from slimnet's own node kinds so that training,
// pruning and export work on it as on a zoo model. The mirror of the
// exporter: one handler per ONNX op type (importHandlers).
//
// Values. Every ONNX value is either a constant (initializers, Constant
// nodes, and everything computed from constants only: shape subgraphs such
// as Shape → Gather → Concat → Reshape are folded here, the symbolic batch
// dimension carried as NaN) or a slimnet node output with its per-sample
// shape (ONNX's shape without the batch dimension). A few values are
// "pending": the partial hard-swish x+3 → Clip(0, 6) → /6, and a HardSigmoid,
// which become one hardswish node when multiplied by x; used otherwise they
// are unsupported.
//
// Errors: every node that cannot be imported is collected, and one
// OnnxImportError lists each unsupported op type with its nodes' names.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';
import { Graph, type GraphNode, type Shape, type AttrValue } from '../../../graph/index.js';
import { tensor, type Tensor } from '../../../tensor/index.js';
import { SlimnetError } from '../../../util/errors.js';

const { onnx } = onnxProto;

export class OnnxImportError extends SlimnetError {}

/** A node the importer cannot map (collected, then reported all at once). */
class Unsupported extends Error {}

export interface OnnxImportOptions {
  /** Per-sample input shape (C, H, W) when the file's input dims are symbolic. */
  inputShape?: readonly number[];
  /** Name of the slimnet graph (default: the ONNX graph's name). */
  name?: string;
  /** Shown in error messages (default: the path, or '<bytes>'). */
  source?: string;
}

export interface OnnxImportReport {
  source: string;
  producer: string;
  opset: number;
  onnxNodes: number;
  /** ONNX op types and how many nodes of each. */
  opCounts: Record<string, number>;
  /** slimnet nodes per kind. */
  kinds: Record<string, number>;
  /** ONNX nodes that became no slimnet node: folded into constants (shape subgraphs, Constant) or removed (Identity, Dropout). */
  folded: number;
}

export interface OnnxImportResult {
  graph: Graph;
  /** Parameters and buffers keyed `${node}.${name}` (Model.fromTensors takes them). */
  tensors: Record<string, Tensor>;
  report: OnnxImportReport;
}

// ---- values ---------------------------------------------------------------------

interface Const {
  t: 'const';
  dims: number[];
  /** Values: float tensors (weights) as a Float32Array, integers and shapes as JS numbers (NaN: the symbolic batch dimension). */
  data: Nums;
}
/** Numbers: a Float32Array for float tensors (large weights never become JS arrays), else a JS array. */
type Nums = number[] | Float32Array;
/** As a JS array (shapes, axes and other small integer constants). */
const arr = (x: Nums): number[] => (Array.isArray(x) ? x : Array.from(x));
interface Val {
  t: 'val';
  node: string;
  shape: Shape;
}
interface Pending {
  t: 'pending';
  /** x + 3 | relu6(x + 3) | clip(αx + β, 0, 1) (hardsigmoid(x); relu6(x + 3) / 6 is α 1/6, β 1/2) | zero padding (for a Conv or AveragePool). */
  stage: 'add3' | 'clip' | 'hsig' | 'pad' | 'shuffle';
  src: Val;
  /** The ONNX name of src (folding into its producer needs it to have no other reader). */
  srcOnnx?: string;
  /** clip stage already multiplied by x (x · relu6(x + 3), waiting for / 6). */
  x6?: boolean;
  alpha?: number;
  beta?: number;
  /** pad stage: [top, left, bottom, right]. */
  pads?: number[];
  /** shuffle stage (channel shuffle's Reshape → Transpose, waiting for the Reshape back): the groups, and the [C, H, W] tensor shuffled (src is the transposed [C/g, g, H, W] view, for Shape). */
  groups?: number;
  shuffled?: Val;
}
type Value = Const | Val | Pending;

const numel = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data (little-endian float32) copied once into its own Float32Array: a byte copy (any offset) on little-endian hosts, else read value by value. */
function rawFloat32(raw: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(raw.subarray(0, n * 4));
  } else {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

function tensorData(t: O.ITensorProto, where: string): Const {
  const dims = (t.dims ?? []).map(Number);
  const n = numel(dims);
  const DT = onnx.TensorProto.DataType;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new OnnxImportError(`${where}: tensor '${t.name}' has its data in an external file (${(t.externalData ?? []).map((e) => `${e.key}=${e.value}`).join(', ')}); external data is not supported: save the model with all tensors inside (onnx.save(model, path, save_as_external_data=False))`);
  }
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  let data: Nums;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const need = (bytes: number) => {
    if (view && view.byteLength !== n * bytes) throw new OnnxImportError(`${where}: tensor '${t.name}' has ${view.byteLength} bytes of data for dims [${dims.join(', ')}] (${n * bytes} expected): the file is truncated or corrupt`);
  };
  switch (t.dataType) {
    case DT.FLOAT:
      need(4);
      data = raw ? rawFloat32(raw, n) : Float32Array.from(t.floatData ?? []);
      break;
    case DT.DOUBLE:
      need(8);
      data = view ? Array.from({ length: n }, (_, i) => view.getFloat64(i * 8, true)) : [...(t.doubleData ?? [])];
      break;
    case DT.INT64:
      need(8);
      data = view ? Array.from({ length: n }, (_, i) => Number(view.getBigInt64(i * 8, true))) : (t.int64Data ?? []).map(Number);
      break;
    case DT.INT32:
      need(4);
      data = view ? Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true)) : [...(t.int32Data ?? [])];
      break;
    case DT.BOOL:
    case DT.UINT8:
    case DT.INT8:
      need(1);
      data = view ? Array.from({ length: n }, (_, i) => (t.dataType === DT.INT8 ? view.getInt8(i) : view.getUint8(i))) : [...(t.int32Data ?? [])];
      break;
    default:
      throw new OnnxImportError(`${where}: tensor '${t.name}' has data type ${DT[t.dataType ?? 0] ?? t.dataType}, which the importer does not read`);
  }
  if (data.length !== n) throw new OnnxImportError(`${where}: tensor '${t.name}' has ${data.length} values for dims [${dims.join(', ')}] (${n} expected)`);
  return { t: 'const', dims, data };
}

// ---- attributes -----------------------------------------------------------------

type AttrMap = Map<string, O.IAttributeProto>;
function attrs(n: O.INodeProto): AttrMap {
  return new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
}
function aInt(m: AttrMap, k: string, d: number): number {
  const a = m.get(k);
  return a ? Number(a.i ?? 0) : d;
}
function aFloat(m: AttrMap, k: string, d: number): number {
  const a = m.get(k);
  return a ? (a.f ?? 0) : d;
}
function aInts(m: AttrMap, k: string): number[] | undefined {
  const a = m.get(k);
  return a ? (a.ints ?? []).map(Number) : undefined;
}
function aStr(m: AttrMap, k: string, d: string): string {
  const a = m.get(k);
  return a?.s ? new TextDecoder().decode(a.s) : d;
}

// ---- handlers -------------------------------------------------------------------

export interface ImportContext {
  readonly node: O.INodeProto;
  readonly name: string;
  readonly opset: number;
  readonly attrs: AttrMap;
  /** Input i's value (undefined for an absent optional input). */
  input(i: number): Value | undefined;
  /** Input i as a graph value (else Unsupported). */
  val(i: number): Val;
  /** Input i as a constant (else Unsupported naming what was expected). */
  constant(i: number, what: string): Const;
  /** Adds a slimnet node; returns its value. Tensors are keyed by short name. */
  add(kind: string, inputs: readonly Val[], attrs: Record<string, AttrValue>, tensors?: Record<string, { dims: number[]; data: ArrayLike<number> }>, hint?: string): Val;
  /** Sets output i. */
  out(v: Value, i?: number): void;
  /** The bias a MatMul's linear node still takes from a following Add (null when none). */
  pendingBias(v: Val): number[] | undefined;
  /** Marks a MatMul's linear node as open to a following Add's bias. */
  markPendingBias(v: Val): void;
  /** The bias is complete (one Add only). */
  closeBias(v: Val): void;
  /** The input of the slimnet reshape node that produced v (undefined when v is not a reshape's output). */
  reshapeSource(v: Val): Val | undefined;
}
export type ImportHandler = (c: ImportContext) => void;

/** One handler per ONNX op type (the exporter's onnxHandlers, in the other direction). */
export const importHandlers = new Map<string, ImportHandler>();
const on = (ops: string | string[], h: ImportHandler) => {
  for (const op of Array.isArray(ops) ? ops : [ops]) importHandlers.set(op, h);
};
const unsupported = (msg: string): never => {
  throw new Unsupported(msg);
};

const isScalar = (c: Const, v: number) => numel(c.dims) === 1 && Math.abs(c.data[0]! - v) < 1e-6;

/** Per-channel constant of a [N, C, 1, 1]-broadcastable shape against a per-sample [C, H, W] value: its C values, else null. */
function perChannel(c: Const, shape: Shape): number[] | null {
  const ch = shape[0]!;
  const d = [...c.dims];
  while (d.length > shape.length) {
    if (d[0] !== 1) return null;
    d.shift();
  }
  if (numel(d) === 1) return new Array<number>(ch).fill(c.data[0]!);
  if (d.length !== shape.length || d[0] !== ch || d.slice(1).some((x) => x !== 1)) return null;
  return Array.from(c.data);
}

// Constant folding of elementwise arithmetic with NumPy broadcasting.
function broadcastConst(a: Const, b: Const, f: (x: number, y: number) => number): Const {
  const r = Math.max(a.dims.length, b.dims.length);
  const da = [...new Array<number>(r - a.dims.length).fill(1), ...a.dims];
  const db = [...new Array<number>(r - b.dims.length).fill(1), ...b.dims];
  const dims = da.map((x, i) => Math.max(x, db[i]!));
  const n = numel(dims);
  // Integer constants (shapes, sizes) are JS arrays, float ones Float32Arrays: integer Div truncates as in ONNX (chunk's (C + 1) / 2).
  const isFloat = a.data instanceof Float32Array || b.data instanceof Float32Array;
  const data: Nums = isFloat ? new Float32Array(n) : new Array<number>(n);
  const strides = (d: number[]) => d.map((_, i) => (d[i] === 1 ? 0 : numel(d.slice(i + 1))));
  const sa = strides(da);
  const sb = strides(db);
  for (let k = 0; k < n; k++) {
    let rem = k;
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < r; i++) {
      const s = numel(dims.slice(i + 1));
      const idx = Math.floor(rem / s);
      rem -= idx * s;
      ia += idx * sa[i]!;
      ib += idx * sb[i]!;
    }
    const v = f(a.data[ia]!, b.data[ib]!);
    data[k] = isFloat || !Number.isFinite(v) ? v : Math.trunc(v);
  }
  return { t: 'const', dims, data };
}

const arith: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => x / y,
};

function allConst(c: ImportContext): Const[] | null {
  const out: Const[] = [];
  for (let i = 0; i < (c.node.input ?? []).length; i++) {
    const v = c.input(i);
    if (v === undefined) continue;
    if (v.t !== 'const') return null;
    out.push(v);
  }
  return out;
}

// Folded constants ----------------------------------------------------------------

on('Constant', (c) => {
  const v = c.attrs.get('value');
  if (v?.t) return c.out(tensorData(v.t, `node '${c.name}'`));
  const f = c.attrs.get('value_float');
  if (f) return c.out({ t: 'const', dims: [], data: Float32Array.of(f.f ?? 0) });
  const fs = c.attrs.get('value_floats');
  if (fs) return c.out({ t: 'const', dims: [fs.floats?.length ?? 0], data: Float32Array.from(fs.floats ?? []) });
  const i = c.attrs.get('value_int');
  if (i) return c.out({ t: 'const', dims: [], data: [Number(i.i ?? 0)] });
  const is = c.attrs.get('value_ints');
  if (is) return c.out({ t: 'const', dims: [is.ints?.length ?? 0], data: (is.ints ?? []).map(Number) });
  unsupported('Constant without a tensor, float(s) or int(s) value');
});

on('Shape', (c) => {
  const x = c.input(0)!;
  const full = x.t === 'const' ? x.dims : x.t === 'val' || x.stage !== 'pad' ? [NaN, ...(x.t === 'val' ? x : x.src).shape] : unsupported('Shape of a padded tensor');
  let start = aInt(c.attrs, 'start', 0);
  let end = aInt(c.attrs, 'end', full.length);
  if (start < 0) start += full.length;
  if (end < 0) end += full.length;
  const d = full.slice(start, end);
  c.out({ t: 'const', dims: [d.length], data: d });
});

on('Cast', (c) => {
  const x = c.input(0)!;
  if (x.t === 'const') {
    const to = aInt(c.attrs, 'to', 1);
    const DT = onnx.TensorProto.DataType;
    const intLike = [DT.INT64, DT.INT32, DT.INT8, DT.UINT8, DT.INT16, DT.BOOL].includes(to);
    return c.out({ ...x, data: intLike ? Array.from(x.data, (v) => (Number.isNaN(v) ? v : Math.trunc(v))) : Float32Array.from(x.data) });
  }
  if (aInt(c.attrs, 'to', 1) !== onnx.TensorProto.DataType.FLOAT) unsupported('Cast of a tensor to a type other than float');
  c.out(x);
});

function normAxis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

on('Gather', (c) => {
  const cs = allConst(c);
  if (!cs) unsupported('Gather of a non-constant tensor');
  const [x, idx] = cs as [Const, Const];
  const axis = normAxis(aInt(c.attrs, 'axis', 0), x.dims.length);
  if (x.dims.length !== 1 || axis !== 0) unsupported('Gather on constants of rank > 1');
  const data = idx.data.map((i) => x.data[i < 0 ? i + x.dims[0]! : i]!);
  c.out({ t: 'const', dims: idx.dims, data });
});

function unsqueezeAxes(c: ImportContext): number[] {
  return c.opset >= 13 && c.input(1) ? arr(c.constant(1, 'axes').data) : (aInts(c.attrs, 'axes') ?? []);
}

on('Unsqueeze', (c) => {
  const x = c.input(0)!;
  const axes = unsqueezeAxes(c);
  if (x.t === 'const') {
    const rank = x.dims.length + axes.length;
    const dims = [...x.dims];
    for (const a of axes.map((a) => normAxis(a, rank)).sort((p, q) => p - q)) dims.splice(a, 0, 1);
    return c.out({ ...x, dims });
  }
  const v = c.val(0);
  const rank = v.shape.length + 1 + axes.length;
  const dims = [NaN, ...v.shape];
  for (const a of axes.map((a) => normAxis(a, rank)).sort((p, q) => p - q)) {
    if (a === 0) unsupported('Unsqueeze at the batch axis');
    dims.splice(a, 0, 1);
  }
  c.out(c.add('reshape', [v], { shape: dims.slice(1) }));
});

on('Squeeze', (c) => {
  const x = c.input(0)!;
  let axes: number[] | undefined = c.opset >= 13 && c.input(1) ? arr(c.constant(1, 'axes').data) : aInts(c.attrs, 'axes');
  if (x.t === 'const') {
    const ax = axes?.map((a) => normAxis(a, x.dims.length));
    return c.out({ ...x, dims: x.dims.filter((d, i) => (ax ? !ax.includes(i) : d !== 1)) });
  }
  const v = c.val(0);
  const full = [NaN, ...v.shape];
  axes ??= full.map((d, i) => (d === 1 ? i : -1)).filter((i) => i > 0);
  const ax = axes.map((a) => normAxis(a, full.length));
  if (ax.includes(0)) unsupported('Squeeze of the batch axis');
  const shape = full.slice(1).filter((_, i) => !ax.includes(i + 1));
  c.out(shape.length === 1 ? c.add('flatten', [v], {}) : c.add('reshape', [v], { shape }));
});

on('Concat', (c) => {
  const cs = allConst(c);
  const axis = aInt(c.attrs, 'axis', 0);
  if (cs) {
    if (cs.some((x) => x.dims.length !== 1)) unsupported('Concat of constants of rank > 1');
    const data = cs.flatMap((x) => arr(x.data));
    return c.out({ t: 'const', dims: [data.length], data });
  }
  const vals = (c.node.input ?? []).map((_, i) => c.val(i));
  const a = normAxis(axis, vals[0]!.shape.length + 1);
  if (a === 0) unsupported('Concat along the batch axis');
  c.out(vals.length === 1 ? vals[0]! : c.add('concat', vals, { axis: a }));
});

on('Slice', (c) => {
  const cs = allConst(c);
  if (!cs) return channelSlice(c);
  const x = cs![0]!;
  const { starts, ends, axes, steps } = sliceParams(c);
  // Any rank, any steps (negative ones too: F.pad's reversed pads), clamped as ONNX says.
  const r = x.dims.length;
  const idx: number[][] = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
  for (const [k, a0] of (axes ?? starts.map((_, i) => i)).entries()) {
    const a = normAxis(a0, r);
    if (a < 0 || a >= r) unsupported(`Slice of a rank-${r} constant along axis ${a0}`);
    const d = x.dims[a]!;
    const step = steps?.[k] ?? 1;
    if (step === 0) unsupported('Slice with step 0');
    const wrap = (v: number) => (v < 0 ? v + d : v);
    const [lo, hi] = step > 0 ? [0, d] : [-1, d - 1];
    const s = Math.max(0, Math.min(step > 0 ? d : d - 1, wrap(starts[k]!)));
    const e = Math.max(lo, Math.min(hi, wrap(ends[k]!)));
    const list: number[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) list.push(i);
    idx[a] = list;
  }
  c.out(gatherConst(x, idx));
});

/** A Slice's starts, ends, axes and steps: inputs from opset 10, attributes before (no steps then). */
function sliceParams(c: ImportContext): { starts: number[]; ends: number[]; axes: number[] | undefined; steps: number[] | undefined } {
  if (c.opset >= 10) {
    return {
      starts: arr(c.constant(1, 'starts').data),
      ends: arr(c.constant(2, 'ends').data),
      axes: c.input(3) ? arr(c.constant(3, 'axes').data) : undefined,
      steps: c.input(4) ? arr(c.constant(4, 'steps').data) : undefined,
    };
  }
  return { starts: aInts(c.attrs, 'starts') ?? [], ends: aInts(c.attrs, 'ends') ?? [], axes: aInts(c.attrs, 'axes'), steps: undefined };
}

/**
 * The sub-tensor of a constant at the given indices per axis (same element
 * type); with `perm`, output axis a walks input axis perm[a] (a transpose).
 */
function gatherConst(x: Const, idx: readonly (readonly number[])[], perm: readonly number[] = idx.map((_, a) => a)): Const {
  const dims = idx.map((l) => l.length);
  const n = numel(dims);
  const data: Nums = x.data instanceof Float32Array ? new Float32Array(n) : new Array<number>(n);
  const inStrides = x.dims.map((_, i) => numel(x.dims.slice(i + 1)));
  for (let k = 0; k < n; k++) {
    let rem = k;
    let off = 0;
    for (let a = dims.length - 1; a >= 0; a--) {
      const i = rem % dims[a]!;
      rem = Math.floor(rem / dims[a]!);
      off += idx[a]![i]! * inStrides[perm[a]!]!;
    }
    data[k] = x.data[off]!;
  }
  return { t: 'const', dims, data };
}

/** Slice of a computed tensor: along the channels (axis 1) with step 1 only, as a channel_slice. */
function channelSlice(c: ImportContext): void {
  const x = c.val(0);
  const { starts, ends, axes, steps } = sliceParams(c);
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.shape.length + 1));
  if (ax.length !== 1 || ax[0] !== 1 || (steps && steps[0] !== 1)) unsupported(`Slice of a computed tensor along axes [${ax.join(', ')}]${steps ? ` with steps [${steps.join(', ')}]` : ''} (channels, axis 1, step 1 only)`);
  const n = x.shape[0]!;
  const clamp = (v: number) => Math.max(0, Math.min(n, v < 0 ? v + n : v));
  const [s, e] = [clamp(starts[0]!), clamp(ends[0]!)];
  if (e <= s) unsupported(`Slice of channels [${starts[0]}, ${ends[0]}) of ${n}: empty`);
  c.out(s === 0 && e === n ? x : c.add('channel_slice', [x], { start: s, end: e }));
}

on('Split', (c) => {
  const x = c.val(0);
  const axis = normAxis(aInt(c.attrs, 'axis', 0), x.shape.length + 1);
  if (axis !== 1) unsupported(`Split along axis ${axis} (channels, axis 1, only)`);
  const outs = (c.node.output ?? []).length;
  const n = x.shape[0]!;
  let sizes = c.opset >= 13 ? (c.input(1) ? arr(c.constant(1, 'split').data) : undefined) : aInts(c.attrs, 'split');
  if (!sizes) {
    const k = Math.ceil(n / outs);
    sizes = Array.from({ length: outs }, (_, i) => Math.max(0, Math.min(k, n - i * k)));
  }
  if (sizes.length !== outs || sizes.reduce((a, b) => a + b, 0) !== n || sizes.some((d) => d < 1)) unsupported(`Split of ${n} channels into [${sizes.join(', ')}] for ${outs} outputs`);
  let off = 0;
  for (const [i, d] of sizes.entries()) {
    c.out(c.add('channel_slice', [x], { start: off, end: off + d }, {}, `${c.name}/${i}`), i);
    off += d;
  }
});

on('Transpose', (c) => {
  const xc = c.input(0);
  if (xc?.t === 'const') {
    // A constant (F.pad's pads as [[begin, end], ...] turned around): fold.
    const r = xc.dims.length;
    const perm = aInts(c.attrs, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    return c.out(gatherConst(xc, perm.map((p) => Array.from({ length: xc.dims[p]! }, (_, i) => i)), perm));
  }
  // Otherwise only channel shuffle: Reshape [N, C, H, W] → [N, g, C/g, H, W], Transpose(0, 2, 1, 3, 4), then Reshape back (see Reshape).
  const x = c.val(0);
  const perm = aInts(c.attrs, 'perm') ?? [];
  const src = c.reshapeSource(x);
  const ok = perm.join(',') === '0,2,1,3,4' && x.shape.length === 4 && src && src.shape.length === 3 && src.shape[0] === x.shape[0]! * x.shape[1]! && src.shape[1] === x.shape[2] && src.shape[2] === x.shape[3];
  if (!ok) unsupported(`Transpose with perm [${perm.join(', ')}] of [N, ${x.shape.join(', ')}] (only channel shuffle: a Reshape [N, g, C/g, H, W] transposed by [0, 2, 1, 3, 4] and reshaped back)`);
  const [g, cg, h, w] = x.shape as number[];
  c.out({ t: 'pending', stage: 'shuffle', src: { t: 'val', node: x.node, shape: [cg!, g!, h!, w!] }, groups: g, shuffled: src });
});

// Arithmetic: constants fold; x+3 → Clip → /6 (hard-swish written out), SE's Mul, residual Add.
on(['Add', 'Sub', 'Mul', 'Div'], (c) => {
  const op = c.node.opType!;
  const a = c.input(0)!;
  const b = c.input(1)!;
  if (a.t === 'const' && b.t === 'const') return c.out(broadcastConst(a, b, arith[op]!));
  // Pending hard-swish pieces.
  if (op === 'Add' && ((a.t === 'val' && b.t === 'const' && isScalar(b, 3)) || (b.t === 'val' && a.t === 'const' && isScalar(a, 3)))) {
    return c.out({ t: 'pending', stage: 'add3', src: (a.t === 'val' ? a : b) as Val, srcOnnx: c.node.input![a.t === 'val' ? 0 : 1] });
  }
  if (op === 'Div' && a.t === 'pending' && a.stage === 'clip' && !a.x6 && b.t === 'const' && isScalar(b, 6)) return c.out({ ...a, stage: 'hsig', alpha: 1 / 6, beta: 0.5 });
  if (op === 'Mul' && a.t === 'pending' && a.stage === 'clip' && !a.x6 && b.t === 'const' && isScalar(b, 1 / 6)) return c.out({ ...a, stage: 'hsig', alpha: 1 / 6, beta: 0.5 });
  if (op === 'Mul') {
    const [p, q] = a.t === 'pending' ? [a, b] : [b, a];
    if (p.t === 'pending' && q.t === 'val' && p.src.node === q.node) {
      if (p.stage === 'hsig' && Math.abs(p.alpha! - 1 / 6) < 1e-6 && Math.abs(p.beta! - 0.5) < 1e-6) return c.out(c.add('hardswish', [q], {}));
      if (p.stage === 'clip') return c.out({ t: 'pending', stage: 'clip', src: q, x6: true });
    }
    // x * relu6(x + 3) then / 6
  }
  if (op === 'Div' && a.t === 'pending' && a.x6 && b.t === 'const' && isScalar(b, 6)) return c.out(c.add('hardswish', [a.src], {}));
  if (a.t === 'pending' || b.t === 'pending') {
    // hardsigmoid(s) gating another tensor (MobileNetV3's SE): fold it into s's producer.
    if (op !== 'Mul' || a.t === 'const' || b.t === 'const') unsupported(`${op} of a partial hard-swish / hard-sigmoid in an unrecognised pattern`);
    return c.out(c.add('mul', [c.val(0), c.val(1)], {}));
  }
  if (a.t === 'val' && b.t === 'val') {
    if (op === 'Add') {
      if (a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])) return c.out(c.add('add', [a, b], {}));
      unsupported('Add of two tensors of different shapes');
    }
    // Mul, Sub, Div of two computed tensors: elementwise kinds with broadcasting.
    // (ONNX aligns ranks with the batch axis included: different ranks would not line up batch with batch.)
    if (op !== 'Mul' && a.shape.length !== b.shape.length) unsupported(`${op} of two computed tensors of different ranks`);
    return c.out(c.add(op.toLowerCase(), [a, b], {}));
  }
  const [v, k] = (a.t === 'val' ? [a, b] : [b, a]) as [Val, Const];
  // Linear's bias from MatMul + Add.
  const lin = c.pendingBias(v);
  if (op === 'Add' && lin && numel(k.dims) === lin.length && k.dims.length <= 2) {
    k.data.forEach((x, i) => (lin[i]! += x));
    c.closeBias(v);
    return c.out(v);
  }
  if (op === 'Mul' || (op === 'Div' && a.t === 'val')) {
    const ch = perChannel(k, v.shape);
    if (ch) {
      const w = op === 'Div' ? ch.map((x) => 1 / x) : ch;
      return c.out(c.add('channel_scale', [v], { features: v.shape[0]! }, { weight: { dims: [w.length], data: w } }));
    }
  }
  unsupported(`${op} of a tensor and a constant of shape [${k.dims.join(', ')}] (per-channel Mul / Div only)`);
});

// Convolution and normalisation.
/** Input 0 and the zero padding of a Pad before it ([top, left, bottom, right]). */
function padded(c: ImportContext): [Val, number[]] {
  const x = c.input(0);
  if (x?.t === 'pending' && x.stage === 'pad') return [x.src, x.pads!];
  return [c.val(0), [0, 0, 0, 0]];
}

function rawPads(c: ImportContext, extra: number[]): number[] {
  const pads = aInts(c.attrs, 'pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4) unsupported(`pads [${pads.join(', ')}] (2-D only)`);
  return pads.map((p, i) => p + extra[i]!);
}

function pads2(c: ImportContext, kernel: number[], stride: number[], dil: number[], inHW: number[], extra: number[] = [0, 0, 0, 0]): [number, number] | 'same' {
  const auto = aStr(c.attrs, 'auto_pad', 'NOTSET');
  if (auto !== 'NOTSET' && extra.some((p) => p)) unsupported(`auto_pad ${auto} after a Pad`);
  if (auto === 'VALID') return [0, 0];
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const p = [0, 1].map((i) => {
      const out = Math.ceil(inHW[i]! / stride[i]!);
      const total = Math.max(0, (out - 1) * stride[i]! + dil[i]! * (kernel[i]! - 1) + 1 - inHW[i]!);
      if (total % 2) unsupported(`auto_pad ${auto} with odd total padding`);
      return total / 2;
    });
    return [p[0]!, p[1]!];
  }
  const pads = rawPads(c, extra);
  if (pads[0] !== pads[2] || pads[1] !== pads[3]) unsupported(`asymmetric pads [${pads.join(', ')}]`);
  return [pads[0]!, pads[1]!];
}

on('Conv', (c) => {
  const [x, extra] = padded(c);
  if (x.shape.length !== 3) unsupported(`Conv on a rank-${x.shape.length + 1} input (2-D convolutions only)`);
  const w = c.constant(1, 'weight');
  const b = c.input(2) ? c.constant(2, 'bias') : undefined;
  const group = aInt(c.attrs, 'group', 1);
  const kernel = aInts(c.attrs, 'kernel_shape') ?? w.dims.slice(2);
  const stride = aInts(c.attrs, 'strides') ?? [1, 1];
  const dil = aInts(c.attrs, 'dilations') ?? [1, 1];
  const padding = pads2(c, kernel, stride, dil, x.shape.slice(1) as number[], extra);
  const out = w.dims[0]!;
  c.out(
    c.add(
      'conv2d',
      [x],
      { inChannels: x.shape[0]!, outChannels: out, kernel, stride, padding: padding as AttrValue, dilation: dil, groups: group, bias: !!b },
      b ? { weight: w, bias: b } : { weight: w },
    ),
  );
});

on('BatchNormalization', (c) => {
  const x = c.val(0);
  if ((c.node.output ?? []).filter((o) => o).length > 1) unsupported('BatchNormalization in training mode (more than one output)');
  const [s, bias, mean, v] = [1, 2, 3, 4].map((i) => c.constant(i, ['scale', 'bias', 'mean', 'var'][i - 1]!));
  const kind = x.shape.length === 3 ? 'batchnorm2d' : x.shape.length === 1 ? 'batchnorm1d' : unsupported(`BatchNormalization on rank ${x.shape.length + 1}`);
  c.out(
    c.add(kind, [x], { features: x.shape[0]!, eps: aFloat(c.attrs, 'epsilon', 1e-5), momentum: 1 - aFloat(c.attrs, 'momentum', 0.9) }, { weight: s!, bias: bias!, running_mean: mean!, running_var: v! }),
  );
});

function linear(c: ImportContext, x: Val, w: ArrayLike<number>, outF: number, inF: number, bias: number[] | null): Val {
  if (x.shape.length !== 1) unsupported(`a linear layer on a rank-${x.shape.length + 1} input (flatten it first)`);
  return c.add('linear', [x], { inFeatures: inF, outFeatures: outF, bias: true }, { weight: { dims: [outF, inF], data: w }, bias: { dims: [outF], data: bias ?? new Array<number>(outF).fill(0) } });
}

on('Gemm', (c) => {
  // A constant A times a computed B (either transA) puts the batch of B in Y's last axis: no slimnet layer does that.
  if (c.input(0)?.t === 'const') unsupported(`Gemm with a constant A (transA = ${aInt(c.attrs, 'transA', 0)}) and a computed B: the batch would not stay the first axis`);
  if (aInt(c.attrs, 'transA', 0)) unsupported('Gemm with transA = 1 on a non-constant input');
  const x = c.val(0);
  const B = c.constant(1, 'B');
  const alpha = aFloat(c.attrs, 'alpha', 1);
  const beta = aFloat(c.attrs, 'beta', 1);
  const transB = aInt(c.attrs, 'transB', 0);
  const [r, k] = B.dims as [number, number];
  const [outF, inF] = transB ? [r, k] : [k, r];
  const w = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) w[o * inF + i] = alpha * (transB ? B.data[o * inF + i]! : B.data[i * outF + o]!);
  let bias: number[] | null = null;
  if (c.input(2)) {
    const C = c.constant(2, 'C');
    if (numel(C.dims) === 1) bias = new Array<number>(outF).fill(beta * C.data[0]!);
    else if (numel(C.dims) === outF) bias = Array.from(C.data, (v) => beta * v);
    else unsupported(`Gemm bias C of shape [${C.dims.join(', ')}]`);
  }
  c.out(linear(c, x, w, outF, inF, bias));
});

on('MatMul', (c) => {
  const x = c.val(0);
  const B = c.constant(1, 'B');
  if (B.dims.length !== 2) unsupported('MatMul with a weight of rank other than 2');
  const [inF, outF] = B.dims as [number, number];
  const w = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) w[o * inF + i] = B.data[i * outF + o]!;
  const v = linear(c, x, w, outF, inF, null);
  c.markPendingBias(v);
  c.out(v);
});

// Activations.
on('Relu', (c) => c.out(c.add('relu', [c.val(0)], {})));
on('Sigmoid', (c) => c.out(c.add('sigmoid', [c.val(0)], {})));
on('Tanh', (c) => c.out(c.add('tanh', [c.val(0)], {})));
on('HardSwish', (c) => c.out(c.add('hardswish', [c.val(0)], {})));
on('LeakyRelu', (c) => c.out(c.add('leaky_relu', [c.val(0)], { slope: aFloat(c.attrs, 'alpha', 0.01) })));
on('Elu', (c) => c.out(c.add('elu', [c.val(0)], { alpha: aFloat(c.attrs, 'alpha', 1) })));
on('HardSigmoid', (c) => {
  const x = c.val(0);
  c.out({ t: 'pending', stage: 'hsig', src: x, srcOnnx: c.node.input![0], alpha: aFloat(c.attrs, 'alpha', 0.2), beta: aFloat(c.attrs, 'beta', 0.5) });
});
on('ConstantOfShape', (c) => {
  const shape = c.constant(0, 'shape');
  const v = c.attrs.get('value');
  const value = v?.t ? tensorData(v.t, `node '${c.name}'`).data[0]! : 0;
  if (shape.data.some((d) => Number.isNaN(d))) unsupported('ConstantOfShape with the batch dimension in its shape');
  c.out({ t: 'const', dims: arr(shape.data), data: new Array<number>(numel(arr(shape.data))).fill(value) });
});
on('Pad', (c) => {
  if (aStr(c.attrs, 'mode', 'constant') !== 'constant') unsupported(`Pad mode '${aStr(c.attrs, 'mode', 'constant')}' (constant only)`);
  let pads = c.opset >= 11 ? c.constant(1, 'pads').data : (aInts(c.attrs, 'pads') ?? []);
  const value = c.opset >= 11 ? (c.input(2) ? c.constant(2, 'constant_value').data[0]! : 0) : aFloat(c.attrs, 'value', 0);
  const x = c.val(0);
  if (c.opset >= 18 && c.input(3)) {
    // Opset 18: pads given for `axes` only ([begin of each axis, end of each axis]); the others are 0.
    const r = x.shape.length + 1;
    const axes = arr(c.constant(3, 'axes').data).map((a) => normAxis(a, r));
    if (pads.length !== 2 * axes.length) unsupported(`Pad with ${pads.length} pads for ${axes.length} axes`);
    const full = new Array<number>(2 * r).fill(0);
    for (const [i, a] of axes.entries()) [full[a], full[a + r]] = [pads[i]!, pads[i + axes.length]!];
    pads = full;
  }
  if (pads.every((p) => p === 0)) return c.out(x);
  if (x.shape.length !== 3 || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0)) {
    unsupported(`Pad [${pads.join(', ')}] (constant padding of H and W only, no cropping)`);
  }
  // Another value than 0 never folds into a Conv or AveragePool: a pad2d node.
  if (value !== 0) return c.out(c.add('pad2d', [x], { pads: [pads[2]!, pads[3]!, pads[6]!, pads[7]!], value }));
  c.out({ t: 'pending', stage: 'pad', src: x, pads: [pads[2]!, pads[3]!, pads[6]!, pads[7]!] });
});
on('Clip', (c) => {
  const x = c.input(0)!;
  let lo: number;
  let hi: number;
  if (c.opset >= 11) {
    lo = c.input(1) ? c.constant(1, 'min').data[0]! : -Infinity;
    hi = c.input(2) ? c.constant(2, 'max').data[0]! : Infinity;
  } else {
    lo = aFloat(c.attrs, 'min', -Infinity);
    hi = aFloat(c.attrs, 'max', Infinity);
  }
  if (x.t === 'pending' && x.stage === 'add3' && lo === 0 && hi === 6) return c.out({ t: 'pending', stage: 'clip', src: x.src });
  const v = c.val(0);
  if (lo === 0 && hi === 6) return c.out(c.add('relu6', [v], {}));
  if (lo === 0 && hi === Infinity) return c.out(c.add('relu', [v], {}));
  unsupported(`Clip to [${lo}, ${hi}] (only [0, 6] and [0, inf) are supported)`);
});
on(['Softmax', 'LogSoftmax'], (c) => {
  const x = c.val(0);
  const axis = normAxis(aInt(c.attrs, 'axis', c.opset >= 13 ? -1 : 1), x.shape.length + 1);
  if (c.opset < 13 && axis !== x.shape.length) unsupported('Softmax (opset < 13) over several axes');
  c.out(c.add('softmax', [x], c.node.opType === 'LogSoftmax' ? { axis, log: true } : { axis }));
});
on('LRN', (c) => {
  const size = aInt(c.attrs, 'size', 0);
  if (size < 1) unsupported('LRN without a size');
  c.out(c.add('lrn', [c.val(0)], { size, alpha: aFloat(c.attrs, 'alpha', 1e-4), beta: aFloat(c.attrs, 'beta', 0.75), bias: aFloat(c.attrs, 'bias', 1) }));
});
on(['Dropout', 'Identity'], (c) => c.out(c.input(0)!));

// Pooling.
function pooled(n: number, k: number, s: number, p0: number, p1: number, ceil: boolean): number {
  const span = n + p0 + p1 - k;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + p0) out -= 1;
  return out;
}

function windowPool(c: ImportContext, kind: 'maxpool2d' | 'avgpool2d'): void {
  const [x, extra] = kind === 'avgpool2d' ? padded(c) : [c.val(0), [0, 0, 0, 0]];
  const kernel = aInts(c.attrs, 'kernel_shape')!;
  const stride = aInts(c.attrs, 'strides') ?? [1, 1];
  const dil = aInts(c.attrs, 'dilations') ?? [1, 1];
  if (kind === 'avgpool2d' && dil.some((d) => d !== 1)) unsupported('AveragePool with dilations');
  let ceilMode = aInt(c.attrs, 'ceil_mode', 0) === 1;
  const raw = aStr(c.attrs, 'auto_pad', 'NOTSET') === 'NOTSET' ? rawPads(c, extra) : null;
  let padding: [number, number] | 'same';
  if (kind === 'maxpool2d' && raw && !ceilMode && (raw[2]! > raw[0]! || raw[3]! > raw[1]!)) {
    // Extra padding at the end only (how ceil mode is written before opset 10): ceil mode if it gives the same size.
    const hw = x.shape.slice(1) as number[];
    const span = [0, 1].map((i) => dil[i]! * (kernel[i]! - 1) + 1);
    const same = [0, 1].every((i) => pooled(hw[i]!, span[i]!, stride[i]!, raw[i]!, raw[i + 2]!, false) === pooled(hw[i]!, span[i]!, stride[i]!, raw[i]!, raw[i]!, true));
    if (!same) unsupported(`asymmetric pads [${raw.join(', ')}]`);
    ceilMode = true;
    padding = [raw[0]!, raw[1]!];
  } else padding = pads2(c, kernel, stride, dil, x.shape.slice(1) as number[], extra);
  if (padding === 'same') unsupported('pooling with same padding');
  const a: Record<string, AttrValue> = { kernel, stride, padding: padding as AttrValue, ceilMode };
  if (dil.some((d) => d !== 1)) a.dilation = dil;
  if (kind === 'avgpool2d') {
    // Zeros from a Pad count in the average: with them, count_include_pad (and then only if the node pads nothing itself).
    const own = aInts(c.attrs, 'pads') ?? [0, 0, 0, 0];
    const include = aInt(c.attrs, 'count_include_pad', 0) === 1;
    if (extra.some((p) => p) && own.some((p) => p) && !include) unsupported('AveragePool with its own padding (not counted) after a Pad');
    a.countIncludePad = include || extra.some((p) => p);
  }
  c.out(c.add(kind, [x], a));
}
on('MaxPool', (c) => {
  if ((c.node.output ?? []).filter((o) => o).length > 1) unsupported('MaxPool with an Indices output');
  windowPool(c, 'maxpool2d');
});
on('AveragePool', (c) => windowPool(c, 'avgpool2d'));
on('GlobalAveragePool', (c) => c.out(c.add('adaptive_avgpool', [c.val(0)], { output: [1, 1] })));
on('GlobalMaxPool', (c) => {
  const x = c.val(0);
  c.out(c.add('maxpool2d', [x], { kernel: [x.shape[1]!, x.shape[2]!], stride: [1, 1], padding: [0, 0], ceilMode: false }));
});
on('ReduceMean', (c) => {
  const x = c.val(0);
  const axes = (c.opset >= 18 && c.input(1) ? c.constant(1, 'axes').data : (aInts(c.attrs, 'axes') ?? [])).map((a) => normAxis(a, x.shape.length + 1)).sort();
  if (x.shape.length !== 3 || axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) unsupported(`ReduceMean over axes [${axes.join(', ')}] (spatial axes [2, 3] only)`);
  c.out(aInt(c.attrs, 'keepdims', 1) ? c.add('adaptive_avgpool', [x], { output: [1, 1] }) : c.add('global_avgpool', [x], {}));
});

// Layout.
on('Flatten', (c) => {
  const x = c.val(0);
  const axis = normAxis(aInt(c.attrs, 'axis', 1), x.shape.length + 1);
  if (axis !== 1) unsupported(`Flatten with axis ${axis} (axis 1 only)`);
  c.out(x.shape.length === 1 ? x : c.add('flatten', [x], {}));
});
on('Reshape', (c) => {
  const x = c.input(0)!;
  const s = { ...c.constant(1, 'shape') };
  s.data = arr(s.data);
  if (x.t === 'pending' && x.stage === 'shuffle') {
    const src = x.shuffled!;
    const rest = s.data.slice(1);
    const total = numel(src.shape);
    const want = rest.map((d, i) => (d === 0 ? x.src.shape[i]! : d === -1 ? total / numel(rest.filter((e) => e !== -1)) : d));
    if (want.length !== 3 || want.some((d, i) => d !== src.shape[i])) unsupported(`Reshape of a channel-shuffle Transpose to [${s.data.join(', ')}] (back to [N, ${src.shape.join(', ')}] only)`);
    return c.out(c.add('channel_shuffle', [src], { groups: x.groups! }));
  }
  if (x.t === 'const') {
    const total = numel(x.dims);
    const known = s.data.filter((d) => d !== -1).map((d, i) => (d === 0 ? x.dims[i]! : d));
    const dims = s.data.map((d, i) => (d === -1 ? total / numel(known) : d === 0 ? x.dims[i]! : d));
    return c.out({ ...x, dims });
  }
  const v = c.val(0);
  const full = [NaN, ...v.shape];
  // The first target dimension is the batch, however it is written (0, -1, a folded Shape, a static 1).
  const rest = s.data.slice(1).map((d, i) => (d === 0 ? full[i + 1]! : d));
  if (rest.some((d) => Number.isNaN(d))) unsupported('Reshape that moves the batch dimension');
  const total = numel(v.shape);
  const known = numel(rest.filter((d) => d !== -1));
  const shape = rest.map((d) => (d === -1 ? total / known : d));
  if (!shape.every((d) => Number.isInteger(d) && d >= 1) || numel(shape) !== total) unsupported(`Reshape of [${v.shape.join(', ')}] to [${s.data.join(', ')}]`);
  if (shape.length === v.shape.length && shape.every((d, i) => d === v.shape[i])) return c.out(v);
  c.out(shape.length === 1 ? c.add('flatten', [v], {}) : c.add('reshape', [v], { shape }));
});

// ---- the import -----------------------------------------------------------------

function decode(bytes: Uint8Array, source: string): O.ModelProto {
  let m: O.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxImportError(`${source}: not a readable ONNX model (${(e as Error).message}); the file is truncated or not ONNX`);
  }
  if (!m.graph || !(m.graph.node ?? []).length) throw new OnnxImportError(`${source}: not an ONNX model (no graph with nodes in it)`);
  return m;
}

const SAFE = /[^A-Za-z0-9_\-/:.]/g;

/**
 * A slimnet name for the node an ONNX node becomes: PyTorch (1.13+) and
 * slimnet name nodes by module path ('/layer1/layer1.0/conv1/Conv'), which
 * becomes 'layer1.0.conv1' so weights are keyed as in the PyTorch state dict
 * ('layer1.0.conv1.weight'); other exporters' nodes keep their output's name.
 */
function modulePath(n: O.INodeProto): { module: string; last: string } | null {
  const nm = n.name ?? '';
  if (!nm.includes('/')) return null;
  const segs = nm.split('/').filter(Boolean);
  const mods = segs.slice(0, -1).filter((seg, i, a) => !a[i + 1]?.startsWith(`${seg}.`));
  return { module: mods.join('.'), last: segs[segs.length - 1] ?? nm };
}

/** A module with one node gives it its path ('layer1.0.conv1'); one with several, path and op ('layer1.0.relu_1'). */
function friendlyName(n: O.INodeProto, nodesPerModule: ReadonlyMap<string, number>): string {
  const m = modulePath(n);
  if (!m) return n.output?.[0] || n.name || (n.opType ?? 'node');
  if (!m.module) return m.last.toLowerCase();
  return nodesPerModule.get(m.module) === 1 ? m.module : `${m.module}.${m.last.toLowerCase()}`;
}

/** Imports an ONNX model (bytes or a path) as a slimnet graph and its tensors. */
/** The bytes of an ONNX file; an unreadable one is an OnnxImportError naming it. */
export function readOnnxFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new OnnxImportError(`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function importOnnx(input: Uint8Array | string, opts: OnnxImportOptions = {}): OnnxImportResult {
  const source = opts.source ?? (typeof input === 'string' ? input : '<bytes>');
  const bytes = typeof input === 'string' ? readOnnxFile(input) : input;
  const model = decode(bytes, source);
  const g = model.graph!;
  const opset = Number((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0) || 13;
  const values = new Map<string, Value>();
  const nodes: GraphNode[] = [];
  const nodeShapes = new Map<string, Shape>();
  const tensors: Record<string, { dims: number[]; data: ArrayLike<number> }> = {};
  const used = new Set<string>();
  const pendingBias = new Map<string, number[]>();
  const closed = new Set<string>();
  const uniq = (hint: string) => {
    let base = hint.replace(SAFE, '_') || 'node';
    if (/^[0-9]/.test(base)) base = `v${base}`;
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };

  for (const t of g.initializer ?? []) values.set(t.name ?? '', tensorData(t, source));
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const graphInputs = (g.input ?? []).filter((i) => !inits.has(i.name));
  if (graphInputs.length === 0) throw new OnnxImportError(`${source}: the graph has no input`);
  for (const gi of graphInputs) {
    const dims = gi.type?.tensorType?.shape?.dim ?? [];
    const per = dims.slice(1).map((d, i) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : (opts.inputShape?.[i] ?? NaN)));
    const shape = opts.inputShape ? [...opts.inputShape] : per;
    if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new OnnxImportError(`${source}: input '${gi.name}' has shape [${dims.map((d) => d.dimParam || d.dimValue).join(', ')}], which is not static: give the input shape (--input-shape C,H,W)`);
    }
    const name = uniq(gi.name ?? 'input');
    nodes.push({ name, kind: 'input', inputs: [], attrs: { shape } });
    values.set(gi.name ?? '', { t: 'val', node: name, shape });
    nodeShapes.set(name, shape);
  }

  /**
   * A pending x + 3, relu6(x + 3) or hardsigmoid(x) used as a tensor: folds the
   * affine part into x's producer (a conv, linear or BatchNorm with a bias that
   * nothing else reads), then relu6 and, for hardsigmoid, a channel_scale of 1/6.
   */
  const materialize = (p: Pending, ctx: ImportContext): Val => {
    // A zero Pad that did not fold into a Conv or AveragePool: a pad2d node of its own.
    if (p.stage === 'pad') return ctx.add('pad2d', [p.src], { pads: [...p.pads!], value: 0 }, {}, `${p.src.node}/pad`);
    if (p.stage === 'shuffle') unsupported('input is a channel-shuffle Transpose not followed by the Reshape back to [N, C, H, W]');
    if (p.x6) unsupported('x · relu6(x + 3) not divided by 6');
    const node = nodes.find((nd) => nd.name === p.src.node);
    const ok = node && ['conv2d', 'linear', 'batchnorm2d', 'batchnorm1d'].includes(node.kind) && tensors[`${node.name}.bias`] && p.srcOnnx && uses.get(p.srcOnnx) === 1;
    if (!ok) unsupported(`a hard-sigmoid (or x + 3) of a tensor that is not the output of a Conv, Gemm or BatchNormalization with a bias read by nothing else`);
    const [a, b] = p.stage === 'hsig' ? [6 * p.alpha!, 6 * p.beta!] : [1, 3];
    const wk = `${node!.name}.weight`;
    const bk = `${node!.name}.bias`;
    const pb = pendingBias.get(node!.name);
    if (pb) {
      pendingBias.delete(node!.name);
      tensors[bk] = { dims: [pb.length], data: pb };
    }
    tensors[wk] = { dims: tensors[wk]!.dims, data: Array.from(tensors[wk]!.data, (v) => v * a) };
    tensors[bk] = { dims: tensors[bk]!.dims, data: Array.from(tensors[bk]!.data, (v) => v * a + b) };
    if (p.stage === 'add3') return p.src;
    const r6 = ctx.add('relu6', [p.src], {}, {}, `${p.src.node}/relu6`);
    if (p.stage === 'clip') return r6;
    return ctx.add('channel_scale', [r6], { features: r6.shape[0]! }, { weight: { dims: [r6.shape[0]!], data: new Array<number>(r6.shape[0]!).fill(1 / 6) } }, `${p.src.node}/hardsigmoid`);
  };
  const problems = new Map<string, string[]>();
  const poisoned = new Set<string>();
  const opCounts: Record<string, number> = {};
  let folded = 0;
  const graphNodes = g.node ?? [];
  const uses = new Map<string, number>();
  const perModule = new Map<string, number>();
  for (const x of graphNodes) {
    const m = modulePath(x);
    // Constants and shape arithmetic never become nodes: they do not share a module's name.
    if (m?.module && !['Constant', 'Shape', 'Gather', 'Unsqueeze', 'Concat', 'Cast', 'Identity', 'Dropout'].includes(x.opType ?? '')) perModule.set(m.module, (perModule.get(m.module) ?? 0) + 1);
  }
  for (const nm of [...graphNodes.flatMap((x) => x.input ?? []), ...(g.output ?? []).map((o) => o.name ?? '')]) uses.set(nm, (uses.get(nm) ?? 0) + 1);
  const outputNames = new Set((g.output ?? []).map((o) => o.name));
  for (const [k, n] of graphNodes.entries()) {
    const op = n.opType ?? '';
    const nodeName = n.name || `${op}_${k}`;
    opCounts[op] = (opCounts[op] ?? 0) + 1;
    const record = (msg: string) => {
      const key = `${op}${n.domain && n.domain !== 'ai.onnx' ? ` (domain ${n.domain})` : ''}`;
      problems.set(key, [...(problems.get(key) ?? []), msg ? `'${nodeName}' (${msg})` : `'${nodeName}'`]);
      for (const o of n.output ?? []) poisoned.add(o);
    };
    const h = !n.domain || n.domain === 'ai.onnx' ? importHandlers.get(op) : undefined;
    if (!h) {
      record('');
      continue;
    }
    // Downstream of a node that could not be imported: its own op is supported, its input is not known.
    if ((n.input ?? []).some((i) => poisoned.has(i))) {
      for (const o of n.output ?? []) poisoned.add(o);
      continue;
    }
    let produced = 0;
    let addedNodes = 0;
    let addedAny = false;
    const ctx: ImportContext = {
      node: n,
      name: nodeName,
      opset,
      attrs: attrs(n),
      input(i) {
        const nm = n.input?.[i];
        if (!nm) return undefined;
        const v = values.get(nm);
        if (!v) throw new OnnxImportError(`${source}: node '${nodeName}' (${op}): input '${nm}' is not produced by any node, initializer or graph input`);
        return v;
      },
      val(i) {
        const v = ctx.input(i);
        if (!v) unsupported(`input ${i} is missing`);
        if (v!.t === 'pending') return materialize(v!, ctx);
        if (v!.t !== 'val') unsupported(`input ${i} is a constant where a computed tensor is expected`);
        return v as Val;
      },
      constant(i, what) {
        const v = ctx.input(i);
        if (!v || v.t !== 'const') unsupported(`${what} (input ${i}) is not a constant: its value must be known at import`);
        return v as Const;
      },
      add(kind, ins, a, ts = {}, hint) {
        const name = uniq(hint ?? (addedNodes === 0 ? friendlyName(n, perModule) : `${friendlyName(n, perModule)}/${kind}`));
        if (hint === undefined) addedNodes++;
        addedAny = true;
        const node: GraphNode = { name, kind, inputs: ins.map((v) => v.node), attrs: a };
        let shape: Shape;
        try {
          const tmp = new Graph({ name: 'probe', nodes: [...ins.map((v, j) => ({ name: `__in${j}`, kind: 'input', inputs: [], attrs: { shape: [...v.shape] } })), { ...node, inputs: ins.map((_, j) => `__in${j}`) }], outputs: [name] });
          shape = tmp.shape(name);
          const specs = tmp.tensorSpecs(tmp.node(name));
          for (const [tn, spec] of Object.entries({ ...specs.params, ...specs.buffers })) {
            const tv = ts[tn];
            if (!tv) throw new Error(`no value for its tensor '${tn}'`);
            if (numel(tv.dims) !== numel(spec.shape)) throw new Error(`tensor '${tn}' has ${numel(tv.dims)} values, the ${kind} needs [${spec.shape.join(', ')}]`);
            tensors[`${name}.${tn}`] = { dims: [...spec.shape], data: tv.data };
          }
        } catch (e) {
          if (e instanceof Unsupported) throw e;
          unsupported(`as ${kind}: ${(e as Error).message}`);
        }
        nodes.push(node);
        nodeShapes.set(name, shape!);
        return { t: 'val', node: name, shape: shape! };
      },
      out(v, i = 0) {
        const nm = n.output?.[i];
        if (nm) values.set(nm, v);
        produced++;
      },
      pendingBias: (v) => (closed.has(v.node) ? undefined : pendingBias.get(v.node)),
      closeBias: (v) => void closed.add(v.node),
      reshapeSource(v) {
        const nd = nodes.find((x) => x.name === v.node);
        if (nd?.kind !== 'reshape') return undefined;
        return { t: 'val', node: nd.inputs[0]!, shape: nodeShapes.get(nd.inputs[0]!)! };
      },
      markPendingBias(v) {
        // Only when the product feeds nothing but the Add: another reader must not see the bias.
        if (uses.get(n.output?.[0] ?? '') === 1) pendingBias.set(v.node, new Array<number>(v.shape[0]!).fill(0));
      },
    };
    try {
      h(ctx);
      if (!addedAny) folded++;
      void produced;
    } catch (e) {
      if (e instanceof Unsupported) record(e.message);
      else if (e instanceof SlimnetError) throw e;
      else throw new OnnxImportError(`${source}: node '${nodeName}' (${op}): ${(e as Error).message}`);
    }
  }
  void outputNames;
  if (problems.size) {
    const lines = [...problems].map(([op, ns]) => `  ${op}: ${ns.join(', ')}`);
    throw new OnnxImportError(`${source}: cannot import ${[...problems.values()].reduce((a, b) => a + b.length, 0)} node(s); unsupported op types and their nodes:\n${lines.join('\n')}`);
  }
  // Fold MatMul + Add biases into the linear tensors.
  for (const [node, b] of pendingBias) tensors[`${node}.bias`] = { dims: [b.length], data: b };

  const outputs: string[] = [];
  for (const o of g.output ?? []) {
    const v = values.get(o.name ?? '');
    if (!v || v.t !== 'val') throw new OnnxImportError(`${source}: graph output '${o.name}' is ${v ? 'not a computed tensor' : 'never produced'}`);
    outputs.push(v.node);
  }
  // Graph outputs keep their ONNX names where a node of another name computes them
  // (an Identity or Dropout at the end, a hard-swish pattern), so runtimes agree on names.
  const rename = new Map<string, string>();
  const nodeNames = new Set(nodes.map((nd) => nd.name));
  (g.output ?? []).forEach((o, i) => {
    const want = o.name ?? '';
    const have = outputs[i]!;
    if (want === have || !want || /[^A-Za-z0-9_\-/:.]/.test(want) || nodeNames.has(want) || rename.has(have) || nodes.find((nd) => nd.name === have)?.kind === 'input') return;
    rename.set(have, want);
    nodeNames.add(want);
  });
  if (rename.size) {
    const r = (nm: string) => rename.get(nm) ?? nm;
    nodes.splice(0, nodes.length, ...nodes.map((nd) => ({ ...nd, name: r(nd.name), inputs: nd.inputs.map(r) })));
    outputs.splice(0, outputs.length, ...outputs.map(r));
    for (const k of Object.keys(tensors)) {
      const cut = k.lastIndexOf('.');
      const nn = rename.get(k.slice(0, cut));
      if (nn) {
        tensors[`${nn}${k.slice(cut)}`] = tensors[k]!;
        delete tensors[k];
      }
    }
  }
  // GlobalAveragePool (or ReduceMean) then Flatten is slimnet's global_avgpool, as in the zoo.
  {
    const readers = new Map<string, number>();
    for (const nm of [...nodes.flatMap((nd) => nd.inputs), ...outputs]) readers.set(nm, (readers.get(nm) ?? 0) + 1);
    const byName = new Map(nodes.map((nd) => [nd.name, nd]));
    const alias = new Map<string, string>();
    for (const [i, nd] of nodes.entries()) {
      const src = nd.kind === 'flatten' ? byName.get(nd.inputs[0]!) : undefined;
      const out = src?.attrs.output as readonly number[] | undefined;
      if (!src || src.kind !== 'adaptive_avgpool' || out?.[0] !== 1 || out[1] !== 1 || readers.get(src.name) !== 1 || outputs.includes(nd.name)) continue;
      nodes[nodes.indexOf(src)] = { ...src, kind: 'global_avgpool', attrs: {} };
      alias.set(nd.name, src.name);
      nodes[i] = { ...nd, kind: '' };
    }
    if (alias.size) {
      const r = (nm: string) => alias.get(nm) ?? nm;
      nodes.splice(0, nodes.length, ...nodes.filter((nd) => nd.kind !== '').map((nd) => ({ ...nd, inputs: nd.inputs.map(r) })));
      outputs.splice(0, outputs.length, ...outputs.map(r));
    }
  }
  // Keep only nodes an output depends on (folded shape subgraphs leave none behind, but a pruned branch may).
  const byName = new Map(nodes.map((nd) => [nd.name, nd]));
  const live = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const nm = stack.pop()!;
    if (live.has(nm)) continue;
    live.add(nm);
    stack.push(...byName.get(nm)!.inputs);
  }
  for (const nd of nodes) if (nd.kind === 'input') live.add(nd.name);
  const kept = nodes.filter((nd) => live.has(nd.name));
  let graph: Graph;
  try {
    graph = new Graph({ name: opts.name ?? (g.name || 'imported'), nodes: kept, outputs });
  } catch (e) {
    throw new OnnxImportError(`${source}: the imported graph is invalid: ${(e as Error).message}`);
  }
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (!live.has(k.slice(0, k.lastIndexOf('.')))) continue;
    // Float32Arrays made here (weights read from raw_data, Gemm / MatMul transposes) go as they are: tensor() copies them into libtorch once.
    out[k] = tensor(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), t.dims);
  }
  const kinds: Record<string, number> = {};
  for (const nd of graph.nodes) kinds[nd.kind] = (kinds[nd.kind] ?? 0) + 1;
  return {
    graph,
    tensors: out,
    report: { source, producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(), opset, onnxNodes: graphNodes.length, opCounts, kinds, folded },
  };
}
