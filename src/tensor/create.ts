// Creating tensors: from typed arrays and plain numbers, and the factories.
import { native } from './native.js';
import { guarded } from './errors.js';
import { op } from './dispatch.js';
import { Tensor, wrap, type Device, type Shape } from './tensor.js';
import { bytesPerElement, dtypeOfArray, isDType, type AnyTypedArray, type DType } from './dtype.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

type Nested = number | boolean | readonly Nested[];

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
  }
  return shape;
}

// Flattens `data`, checking that it is rectangular with the given (inferred)
// shape: a ragged array can otherwise hold exactly the expected count.
function flatten(data: Nested, shape: readonly number[], depth = 0, out: (number | boolean)[] = []): (number | boolean)[] {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new RangeError(`tensor(): ragged nested array: an array where a number was expected at depth ${depth}`);
    out.push(data as number | boolean);
  } else {
    if (!Array.isArray(data) || data.length !== shape[depth]) {
      const found = Array.isArray(data) ? `${data.length} elements` : 'a number';
      throw new RangeError(`tensor(): ragged nested array: expected ${shape[depth]} elements at depth ${depth}, found ${found}`);
    }
    for (const d of data as readonly Nested[]) flatten(d, shape, depth + 1, out);
  }
  return out;
}

function toTyped(values: number[], dtype: DType): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values, (v) => (dtype === 'bool' ? (v ? 1 : 0) : v));
    default:
      throw new TypeError(`tensor(): cannot create ${dtype} from numbers; create float32 and convert with .to('${dtype}')`);
  }
}

/**
 * A tensor from a typed array with a shape, or from (nested) numbers.
 * `tensor(new Float32Array(6), [2, 3])`, `tensor([[1, 2], [3, 4]])`.
 */
export function tensor(data: AnyTypedArray | Nested, shape?: Shape, opts: CreateOptions = {}): Tensor {
  if (opts.dtype !== undefined && !isDType(opts.dtype)) throw new TypeError(`tensor(): unknown dtype '${String(opts.dtype)}'`);
  let typed: AnyTypedArray;
  let dims: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    typed = data as AnyTypedArray;
    dtype = opts.dtype ?? dtypeOfArray(typed);
    if (isDType(dtype) && typed.BYTES_PER_ELEMENT !== bytesPerElement(dtype)) {
      throw new RangeError(`tensor(): a ${typed.constructor.name} (${typed.BYTES_PER_ELEMENT} bytes per element) cannot hold ${dtype} data (${bytesPerElement(dtype)} bytes); pass the matching typed array or convert with .to('${dtype}')`);
    }
    dims = shape ? [...shape] : [typed.length];
    const expected = dims.reduce((a, b) => a * b, 1);
    if (typed.length !== expected) throw new RangeError(`tensor(): ${typed.length} values do not fill shape [${dims.join(', ')}] (${expected} elements)`);
  } else {
    const nestedShape = inferShape(data);
    dims = shape ? [...shape] : nestedShape;
    const flat = flatten(data, nestedShape);
    dtype = opts.dtype ?? (typeof flat[0] === 'boolean' ? 'bool' : 'float32');
    const expected = dims.reduce((a, b) => a * b, 1);
    if (flat.length !== expected) throw new RangeError(`tensor(): ${flat.length} values do not fill shape [${dims.join(', ')}] (${expected} elements); is the nested array ragged?`);
    typed = toTyped(flat.map(Number), dtype);
  }
  if (!isDType(dtype)) throw new TypeError(`tensor(): unknown dtype '${String(dtype)}'`);
  return finish(new Tensor(guarded('tensor', () => native.fromArray(typed, dims, dtype, opts.device))), opts);
}

/** A 0-dimensional tensor holding one number. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return finish(wrap(op('aten::scalar_tensor').call(value, opts.dtype ?? 'float32', null, opts.device ?? null)), opts);
}

function factory(name: string, shape: Shape, opts: CreateOptions, ...extra: (number | null)[]): Tensor {
  return finish(wrap(op(name).call([...shape], ...extra, opts.dtype ?? 'float32', null, opts.device ?? null)), opts);
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('aten::zeros', shape, opts);
}
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('aten::ones', shape, opts);
}
export function empty(shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(wrap(op('aten::empty.memory_format').call([...shape], opts.dtype ?? 'float32', null, opts.device ?? null)), opts);
}
export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  return factory('aten::full', shape, opts, value);
}
/** Standard normal samples from the global generator (seed it with manualSeed). */
export function randn(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('aten::randn', shape, opts);
}
/** Uniform samples in [0, 1). */
export function rand(shape: Shape, opts: CreateOptions = {}): Tensor {
  return factory('aten::rand', shape, opts);
}
/** Integers uniform in [low, high), int64 unless a dtype is given. */
export function randint(low: number, high: number, shape: Shape, opts: CreateOptions = {}): Tensor {
  return wrap(op('aten::randint.low').call(low, high, [...shape], opts.dtype ?? 'int64', null, opts.device ?? null));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return wrap(op('aten::randperm').call(n, opts.dtype ?? 'int64', null, opts.device ?? null));
}
/** Values from start to end (exclusive) by step; float32 unless a dtype is given. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return finish(wrap(op('aten::arange.start_step').call(s, e, step, opts.dtype ?? 'float32', null, opts.device ?? null)), opts);
}
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  return finish(wrap(op('aten::linspace').call(start, end, steps, opts.dtype ?? 'float32', null, opts.device ?? null)), opts);
}
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return finish(wrap(op('aten::eye').call(n, opts.dtype ?? 'float32', null, opts.device ?? null)), opts);
}
export function zerosLike(t: Tensor): Tensor {
  return wrap(op('aten::zeros_like').call(t.handle));
}
export function onesLike(t: Tensor): Tensor {
  return wrap(op('aten::ones_like').call(t.handle));
}
