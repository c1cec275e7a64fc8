// Deterministic release of native memory. Every tensor created while a scope
// is open is recorded in it; when the scope ends, all of them are disposed but
// those returned from it (or kept), which move to the enclosing scope.

/** Anything that owns native memory and can give it back now. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];

/** Called by resource constructors: records `d` in the innermost open scope. */
export function track(d: Disposable): void {
  const top = stack[stack.length - 1];
  if (top) top.add(d);
}

/** Removes `d` from scope tracking: only dispose() (or the GC backstop) frees it. */
export function keep<T extends Disposable>(d: T): T {
  for (const s of stack) s.delete(d);
  return d;
}

function collect(value: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'isDisposed' in v;
}

function remove(scope: Set<Disposable>): void {
  const i = stack.lastIndexOf(scope);
  if (i >= 0) stack.splice(i, 1);
}

function close(scope: Set<Disposable>, result: unknown): void {
  const survivors = new Set<Disposable>();
  collect(result, survivors, new Set());
  const parent = stack[stack.length - 1];
  for (const d of scope) {
    if (survivors.has(d)) parent?.add(d);
    else d.dispose();
  }
}

/**
 * Runs `fn` in a scope: tensors it creates are disposed when it returns,
 * except those in its result (a tensor, or arrays / plain objects / Maps of
 * them). Async functions are supported; the scope closes when the promise
 * settles, so do not interleave two tidy() calls that await.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    remove(scope);
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        remove(scope);
        close(scope, v);
        return v;
      },
      (e) => {
        remove(scope);
        close(scope, undefined);
        throw e;
      },
    ) as T;
  }
  remove(scope);
  close(scope, result);
  return result;
}

/**
 * A scope object for `using` declarations and explicit blocks:
 * `using scope = new Scope(); ...` disposes what was created since.
 */
export class Scope {
  private readonly own = new Set<Disposable>();
  private open = true;
  constructor() {
    stack.push(this.own);
  }
  /** Ends the scope, keeping `survivors` (moved to the enclosing scope). */
  end(survivors?: unknown): void {
    if (!this.open) return;
    this.open = false;
    remove(this.own);
    close(this.own, survivors);
  }
  [Symbol.dispose](): void {
    this.end();
  }
}

/** Number of tensors the open scopes currently track (for tests and leak hunts). */
export function trackedCount(): number {
  return stack.reduce((n, s) => n + s.size, 0);
}
