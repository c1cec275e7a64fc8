// The one way TypeScript reaches an ATen op: resolve it by schema name once,
// then call it through the boxed dispatcher. Native failures become OpError.
import { native, type NativeValue, type OpHandle } from './native.js';
import { OpError } from './errors.js';

export class OpRef {
  private resolved: OpHandle | null = null;
  readonly qualified: string;

  constructor(
    readonly name: string,
    readonly overload: string,
  ) {
    this.qualified = overload ? `${name}.${overload}` : name;
  }

  get handle(): OpHandle {
    if (this.resolved === null) {
      try {
        this.resolved = native.findOp(this.name, this.overload);
      } catch (e) {
        throw new OpError(this.qualified, (e as Error).message, { cause: e });
      }
    }
    return this.resolved;
  }

  /** The op's schema as libtorch registers it. */
  get schema(): string {
    return native.opSchema(this.handle);
  }

  call(...args: NativeValue[]): NativeValue {
    const h = this.handle;
    try {
      return native.call(h, ...args);
    } catch (e) {
      throw new OpError(this.qualified, (e as Error).message, { cause: e });
    }
  }

  async callAsync(...args: NativeValue[]): Promise<NativeValue> {
    const h = this.handle;
    try {
      return await native.callAsync(h, ...args);
    } catch (e) {
      throw new OpError(this.qualified, (e as Error).message, { cause: e });
    }
  }
}

const cache = new Map<string, OpRef>();

/** `op('aten::add.Tensor')`, `op('conv2d')`: the namespace defaults to aten, the overload to ''. */
export function op(qualifiedName: string): OpRef {
  let ref = cache.get(qualifiedName);
  if (!ref) {
    const full = qualifiedName.includes('::') ? qualifiedName : `aten::${qualifiedName}`;
    const sep = full.indexOf('::');
    const dot = full.indexOf('.', sep);
    ref = dot < 0 ? new OpRef(full, '') : new OpRef(full.slice(0, dot), full.slice(dot + 1));
    cache.set(qualifiedName, ref);
  }
  return ref;
}

/** Every operator libtorch has registered, as 'ns::name.overload'. */
export function listOps(): string[] {
  return native.listOps();
}
