// The Tensor class: a handle on one libtorch tensor, its data, autograd state,
// and the methods a CNN toolkit calls on tensors. Functional NN ops live in
// ops.ts; all of them go through dispatch.ts.
import { inspect } from 'node:util';
import { native, type Handle, type NativeValue } from './native.js';
import { op } from './dispatch.js';
import { track, type Disposable } from './scope.js';
import { DisposedTensorError, guarded, guardedAsync } from './errors.js';
import { typedArrayFromBuffer, type DType, type TypedArrayOf, type AnyTypedArray } from './dtype.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Shape = readonly number[];
/** One element of an index: a position, a [start, end, step?] slice, or null for "all". */
export type SliceSpec = number | readonly [number | null, number | null, number?] | null;

export class Tensor implements Disposable {
  private h: Handle | null;

  /** Wraps a native handle; the tensor joins the innermost open scope. */
  constructor(handle: Handle) {
    this.h = handle;
    track(this);
  }

  /** The native handle; throws DisposedTensorError after dispose(). */
  get handle(): Handle {
    if (this.h === null) throw new DisposedTensorError('tensor was disposed');
    return this.h;
  }

  get isDisposed(): boolean {
    return this.h === null || native.isDisposed(this.h);
  }

  /** Drops this tensor's reference to its storage now. Idempotent. */
  dispose(): void {
    if (this.h !== null) {
      native.dispose(this.h);
      this.h = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- metadata ---------------------------------------------------------

  get shape(): number[] {
    return native.shape(this.handle);
  }
  get dtype(): DType {
    return native.meta(this.handle)[1] as DType;
  }
  get device(): string {
    return native.meta(this.handle)[2];
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d]!;
  }

  // ---- data -------------------------------------------------------------

  /** A copy of the elements in row-major order, as the dtype's typed array. */
  data<D extends DType = DType>(): TypedArrayOf<D> {
    return typedArrayFromBuffer(this.dtype as D, native.toArray(this.handle));
  }
  /** Elements as plain numbers (int64 converted, bool as 0/1). */
  toArray(): number[] {
    const d = this.data() as AnyTypedArray;
    return Array.from(d as ArrayLike<number | bigint>, Number);
  }
  /** The value of a one-element tensor. */
  item(): number {
    return Number(guarded('item', () => native.item(this.handle)));
  }

  // ---- autograd ---------------------------------------------------------

  get requiresGrad(): boolean {
    return native.meta(this.handle)[3];
  }
  set requiresGrad(flag: boolean) {
    guarded('setRequiresGrad', () => native.setRequiresGrad(this.handle, flag));
  }
  /** Marks the tensor as requiring grad and returns it (for chaining). */
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }
  /** The accumulated gradient (a new handle on it), or null. */
  get grad(): Tensor | null {
    const g = native.getGrad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    guarded('setGrad', () => native.setGrad(this.handle, g === null ? null : g.handle));
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** Keep .grad on a non-leaf tensor after backward (activation gradients). */
  retainGrad(): this {
    guarded('retainGrad', () => native.retainGrad(this.handle));
    return this;
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    guarded('backward', () => native.backward([this.handle], gradient ? [gradient.handle] : null, opts.retainGraph ?? false, opts.createGraph ?? false));
  }
  /** backward() on the libuv thread pool: the event loop stays free meanwhile. */
  backwardAsync(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): Promise<void> {
    return guardedAsync('backward', () => native.backwardAsync([this.handle], gradient ? [gradient.handle] : null, opts.retainGraph ?? false));
  }
  detach(): Tensor {
    return unary('aten::detach', this);
  }
  /** A second handle on the same tensor (same storage and autograd node). */
  share(): Tensor {
    return new Tensor(native.share(this.handle));
  }

  // ---- conversion -------------------------------------------------------

  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    const spec = typeof target === 'string' ? (target.startsWith('cuda') || target === 'cpu' ? { device: target as Device } : { dtype: target as DType }) : target;
    const dtype = spec.dtype ?? this.dtype;
    if (spec.device !== undefined) return wrap(op('aten::to.device').call(this.handle, spec.device, dtype));
    return wrap(op('aten::to.dtype').call(this.handle, dtype));
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return unary('aten::clone', this);
  }
  contiguous(): Tensor {
    return unary('aten::contiguous', this);
  }

  // ---- shape and views ----------------------------------------------------

  reshape(...shape: number[] | [Shape]): Tensor {
    return wrap(op('aten::reshape').call(this.handle, flatShape(shape)));
  }
  view(...shape: number[] | [Shape]): Tensor {
    return wrap(op('aten::view').call(this.handle, flatShape(shape)));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(op('aten::flatten.using_ints').call(this.handle, startDim, endDim));
  }
  permute(...dims: number[]): Tensor {
    return wrap(op('aten::permute').call(this.handle, dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(op('aten::transpose.int').call(this.handle, dim0, dim1));
  }
  get T(): Tensor {
    return unary('aten::t', this);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? unary('aten::squeeze', this) : wrap(op('aten::squeeze.dim').call(this.handle, dim));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(op('aten::unsqueeze').call(this.handle, dim));
  }
  expand(...shape: number[]): Tensor {
    return wrap(op('aten::expand').call(this.handle, shape));
  }
  /** Elements `index` along `dim` (a copy; the op pruning uses to keep channels). */
  indexSelect(dim: number, index: Tensor | readonly number[]): Tensor {
    const idx = index instanceof Tensor ? index : indexTensor(index);
    try {
      return wrap(op('aten::index_select').call(this.handle, dim, idx.handle));
    } finally {
      if (idx !== index) idx.dispose();
    }
  }
  /** A view of [start, end) with `step` along `dim` (negative bounds count from the end). */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return wrap(op('aten::slice.Tensor').call(this.handle, dim, start, end, step));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(op('aten::narrow').call(this.handle, dim, start, length));
  }
  select(dim: number, index: number): Tensor {
    return wrap(op('aten::select.int').call(this.handle, dim, index));
  }
  /**
   * Basic indexing, one spec per leading dimension: a number selects (and
   * drops the dimension), a [start, end, step?] tuple slices, null keeps all.
   */
  index(...specs: SliceSpec[]): Tensor {
    let out: Tensor = this.share();
    let dim = 0;
    for (const spec of specs) {
      let next: Tensor;
      if (spec === null) {
        dim += 1;
        continue;
      } else if (typeof spec === 'number') {
        next = out.select(dim, spec);
      } else {
        next = out.slice(dim, spec[0], spec[1], spec[2] ?? 1);
        dim += 1;
      }
      out.dispose();
      out = next;
    }
    return out;
  }
  /** Gathers with integer / boolean index tensors per dimension (null = all), like x[idx]. */
  gatherIndex(indices: (Tensor | null)[]): Tensor {
    return wrap(op('aten::index.Tensor').call(this.handle, indices.map((t) => (t ? t.handle : null))));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapList(op('aten::chunk').call(this.handle, chunks, dim));
  }
  split(size: number, dim = 0): Tensor[] {
    return wrapList(op('aten::split.Tensor').call(this.handle, size, dim));
  }

  // ---- elementwise math ----------------------------------------------------

  add(other: Tensor | number, alpha = 1): Tensor {
    return binary('add', this, other, alpha);
  }
  sub(other: Tensor | number, alpha = 1): Tensor {
    return binary('sub', this, other, alpha);
  }
  mul(other: Tensor | number): Tensor {
    return binary('mul', this, other);
  }
  div(other: Tensor | number): Tensor {
    return binary('div', this, other);
  }
  pow(exponent: Tensor | number): Tensor {
    return other(exponent)
      ? wrap(op('aten::pow.Tensor_Tensor').call(this.handle, (exponent as Tensor).handle))
      : wrap(op('aten::pow.Tensor_Scalar').call(this.handle, exponent as number));
  }
  maximum(o: Tensor): Tensor {
    return wrap(op('aten::maximum').call(this.handle, o.handle));
  }
  minimum(o: Tensor): Tensor {
    return wrap(op('aten::minimum').call(this.handle, o.handle));
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return wrap(op('aten::clamp').call(this.handle, min, max));
  }
  matmul(o: Tensor): Tensor {
    return wrap(op('aten::matmul').call(this.handle, o.handle));
  }
  neg(): Tensor {
    return unary('aten::neg', this);
  }
  abs(): Tensor {
    return unary('aten::abs', this);
  }
  sign(): Tensor {
    return unary('aten::sign', this);
  }
  sqrt(): Tensor {
    return unary('aten::sqrt', this);
  }
  rsqrt(): Tensor {
    return unary('aten::rsqrt', this);
  }
  exp(): Tensor {
    return unary('aten::exp', this);
  }
  log(): Tensor {
    return unary('aten::log', this);
  }
  sin(): Tensor {
    return unary('aten::sin', this);
  }
  cos(): Tensor {
    return unary('aten::cos', this);
  }
  floor(): Tensor {
    return unary('aten::floor', this);
  }
  round(): Tensor {
    return unary('aten::round', this);
  }
  reciprocal(): Tensor {
    return unary('aten::reciprocal', this);
  }
  relu(): Tensor {
    return unary('aten::relu', this);
  }
  sigmoid(): Tensor {
    return unary('aten::sigmoid', this);
  }
  tanh(): Tensor {
    return unary('aten::tanh', this);
  }
  softmax(dim: number): Tensor {
    return wrap(op('aten::softmax.int').call(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(op('aten::log_softmax.int').call(this.handle, dim));
  }
  where(condition: Tensor, other: Tensor | number): Tensor {
    return typeof other === 'number'
      ? wrap(op('aten::where.ScalarOther').call(condition.handle, this.handle, other))
      : wrap(op('aten::where.self').call(condition.handle, this.handle, other.handle));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return wrap(op('aten::masked_fill.Scalar').call(this.handle, mask.handle, value));
  }

  // ---- comparison -----------------------------------------------------------

  eq(o: Tensor | number): Tensor {
    return compare('eq', this, o);
  }
  ne(o: Tensor | number): Tensor {
    return compare('ne', this, o);
  }
  lt(o: Tensor | number): Tensor {
    return compare('lt', this, o);
  }
  le(o: Tensor | number): Tensor {
    return compare('le', this, o);
  }
  gt(o: Tensor | number): Tensor {
    return compare('gt', this, o);
  }
  ge(o: Tensor | number): Tensor {
    return compare('ge', this, o);
  }
  isfinite(): Tensor {
    return unary('aten::isfinite', this);
  }
  /** True when every element is close to `o` (|a-b| <= atol + rtol*|b|). */
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return op('aten::allclose').call(this.handle, o.handle, rtol, atol, false) as boolean;
  }

  // ---- reductions -------------------------------------------------------------

  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? unary('aten::sum', this) : wrap(op('aten::sum.dim_IntList').call(this.handle, dims(dim), keepdim));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? unary('aten::mean', this) : wrap(op('aten::mean.dim').call(this.handle, dims(dim), keepdim));
  }
  /** Standard deviation; `correction` 1 is Bessel's (unbiased), 0 the population one. */
  std(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(op('aten::std.correction').call(this.handle, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false));
  }
  var(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(op('aten::var.correction').call(this.handle, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false));
  }
  max(): Tensor {
    return unary('aten::max', this);
  }
  min(): Tensor {
    return unary('aten::min', this);
  }
  amax(dim: number | number[], keepdim = false): Tensor {
    return wrap(op('aten::amax').call(this.handle, dims(dim), keepdim));
  }
  amin(dim: number | number[], keepdim = false): Tensor {
    return wrap(op('aten::amin').call(this.handle, dims(dim), keepdim));
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(op('aten::argmax').call(this.handle, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return wrap(op('aten::argmin').call(this.handle, dim ?? null, keepdim));
  }
  /** p-norm over all elements, or over `dim`. */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return wrap(op('aten::norm.ScalarOpt_dim').call(this.handle, p, dim === undefined ? [] : dims(dim), keepdim));
  }
  topk(k: number, dim = -1, largest = true): [Tensor, Tensor] {
    return wrapList(op('aten::topk').call(this.handle, k, dim, largest, true)) as [Tensor, Tensor];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return wrapList(op('aten::sort').call(this.handle, dim, descending)) as [Tensor, Tensor];
  }

  // ---- in-place (optimizers, initialisers; run them under noGrad on parameters) ----

  add_(other: Tensor | number, alpha = 1): this {
    other instanceof Tensor ? op('aten::add_.Tensor').call(this.handle, other.handle, alpha) : op('aten::add_.Scalar').call(this.handle, other, alpha);
    return this;
  }
  sub_(other: Tensor | number, alpha = 1): this {
    other instanceof Tensor ? op('aten::sub_.Tensor').call(this.handle, other.handle, alpha) : op('aten::sub_.Scalar').call(this.handle, other, alpha);
    return this;
  }
  mul_(other: Tensor | number): this {
    other instanceof Tensor ? op('aten::mul_.Tensor').call(this.handle, other.handle) : op('aten::mul_.Scalar').call(this.handle, other);
    return this;
  }
  div_(other: Tensor | number): this {
    other instanceof Tensor ? op('aten::div_.Tensor').call(this.handle, other.handle) : op('aten::div_.Scalar').call(this.handle, other);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    op('aten::addcmul_').call(this.handle, t1.handle, t2.handle, value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    op('aten::addcdiv_').call(this.handle, t1.handle, t2.handle, value);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    op('aten::lerp_.Scalar').call(this.handle, end.handle, weight);
    return this;
  }
  sqrt_(): this {
    op('aten::sqrt_').call(this.handle);
    return this;
  }
  clamp_(min: number | null, max: number | null = null): this {
    op('aten::clamp_').call(this.handle, min, max);
    return this;
  }
  copy_(src: Tensor): this {
    op('aten::copy_').call(this.handle, src.handle, false);
    return this;
  }
  zero_(): this {
    op('aten::zero_').call(this.handle);
    return this;
  }
  fill_(value: number): this {
    op('aten::fill_.Scalar').call(this.handle, value);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    op('aten::normal_').call(this.handle, mean, std);
    return this;
  }
  uniform_(from = 0, to = 1): this {
    op('aten::uniform_').call(this.handle, from, to);
    return this;
  }

  // ---- display ------------------------------------------------------------------

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const n = this.numel;
    const body = n <= 16 ? ` [${this.toArray().map((v) => +v.toFixed(4)).join(', ')}]` : '';
    return `Tensor(${JSON.stringify(this.shape)}, ${this.dtype}${this.device === 'cpu' ? '' : `, ${this.device}`})${body}`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

// ---- helpers shared by the methods above and by ops.ts ------------------------

/** Wraps a handle returned by an op into a Tensor. */
export function wrap(v: NativeValue): Tensor {
  return new Tensor(v as Handle);
}

export function wrapList(v: NativeValue): Tensor[] {
  return (v as Handle[]).map((h) => new Tensor(h));
}

function unary(name: string, t: Tensor): Tensor {
  return wrap(op(name).call(t.handle));
}

function other(x: Tensor | number): x is Tensor {
  return x instanceof Tensor;
}

function binary(name: 'add' | 'sub', a: Tensor, b: Tensor | number, alpha: number): Tensor;
function binary(name: 'mul' | 'div', a: Tensor, b: Tensor | number): Tensor;
function binary(name: string, a: Tensor, b: Tensor | number, alpha?: number): Tensor {
  const isT = b instanceof Tensor;
  const ref = op(`aten::${name}.${isT ? 'Tensor' : 'Scalar'}`);
  const rhs = isT ? b.handle : b;
  return wrap(alpha === undefined ? ref.call(a.handle, rhs) : ref.call(a.handle, rhs, alpha));
}

function compare(name: string, a: Tensor, b: Tensor | number): Tensor {
  return b instanceof Tensor ? wrap(op(`aten::${name}.Tensor`).call(a.handle, b.handle)) : wrap(op(`aten::${name}.Scalar`).call(a.handle, b));
}

function dims(d: number | number[]): number[] {
  return typeof d === 'number' ? [d] : d;
}

function flatShape(shape: number[] | [Shape]): number[] {
  return (shape.length === 1 && Array.isArray(shape[0]) ? shape[0] : shape) as number[];
}

/** An int64 index tensor from plain numbers. */
export function indexTensor(values: readonly number[]): Tensor {
  const data = BigInt64Array.from(values, (v) => {
    if (!Number.isInteger(v)) throw new TypeError(`index ${v} is not an integer`);
    return BigInt(v);
  });
  return new Tensor(native.fromArray(data, [values.length], 'int64'));
}
