// callOp: any of libtorch's ~3,200 ATen ops by schema name, for the ops no
// typed wrapper covers yet. Arguments follow the schema's order; tensors,
// numbers, booleans, strings (dtypes, devices), arrays and null convert.
import type { Handle, NativeValue } from './native.js';
import { op } from './dispatch.js';
import { Tensor } from './tensor.js';

export type OpArg = Tensor | number | boolean | string | null | undefined | readonly OpArg[];
export type OpResult = Tensor | number | boolean | string | null | undefined | OpResult[];

function toNative(a: OpArg): NativeValue {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(toNative);
  return a as NativeValue;
}

function fromNative(v: NativeValue, args: readonly OpArg[]): OpResult {
  if (Array.isArray(v)) return v.map((e) => fromNative(e, args));
  if (v !== null && typeof v === 'object') {
    // In-place and out= ops hand back the caller's own tensor.
    for (const a of args) if (a instanceof Tensor && !a.isDisposed && a.handle === v) return a;
    return new Tensor(v as Handle);
  }
  return v as OpResult;
}

/** `callOp('aten::lerp.Scalar', a, b, 0.5)` */
export function callOp(name: string, ...args: OpArg[]): OpResult {
  return fromNative(op(name).call(...args.map(toNative)), args);
}

/** callOp on the libuv thread pool; resolves when the kernel has run. */
export async function callOpAsync(name: string, ...args: OpArg[]): Promise<OpResult> {
  return fromNative(await op(name).callAsync(...args.map(toNative)), args);
}

/** The schema libtorch registers for `name`, e.g. 'aten::add.Tensor(Tensor self, ...) -> Tensor'. */
export function opSchema(name: string): string {
  return op(name).schema;
}
