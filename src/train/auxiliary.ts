// Auxiliary trainable modules: tensors trained alongside a model that are not
// part of its graph — adapters, a distillation projection from student to
// teacher features, TransTailor's per-filter scales before they are folded
// in. The trainer checks that its optimizer updates them, hands them to every
// loss term and step context, and keeps them in its state so that a resumed
// run continues bit for bit.
import { keep, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { SlimnetError } from '../util/errors.js';

/** A module name: letters, digits, '_' and '-' (it prefixes state keys, so no '.'). */
const NAME = /^[A-Za-z0-9_-]+$/;

export class AuxiliaryModule {
  private readonly store: Map<string, Tensor>;
  private disposed = false;

  /**
   * Takes ownership of `tensors` (they leave the enclosing scope and live
   * until dispose()). Those with requiresGrad are the trainable parameters;
   * the others are buffers that are saved and restored with them.
   */
  constructor(
    readonly name: string,
    tensors: Readonly<Record<string, Tensor>>,
  ) {
    if (!NAME.test(name)) throw new TypeError(`auxiliary module name '${name}' must be letters, digits, '_' or '-'`);
    const entries = Object.entries(tensors);
    if (entries.length === 0) throw new TypeError(`auxiliary module '${name}' has no tensors`);
    this.store = new Map(entries.map(([k, t]) => [k, keep(t)]));
  }

  /** The tensor `key` (live, owned by the module). */
  tensor(key: string): Tensor {
    const t = this.store.get(key);
    if (!t) throw new SlimnetError(`auxiliary module '${this.name}' has no tensor '${key}' (it has ${[...this.store.keys()].join(', ')})`);
    return t;
  }

  /** Every tensor by key, in insertion order (live tensors owned by the module). */
  namedTensors(): [string, Tensor][] {
    this.assertLive();
    return [...this.store.entries()];
  }

  /** The trainable tensors, in insertion order: hand them to the optimizer with the model's. */
  parameters(): Tensor[] {
    return this.namedTensors()
      .filter(([, t]) => t.requiresGrad)
      .map(([, t]) => t);
  }

  /** Copies of every tensor (the caller owns them). */
  stateDict(): Record<string, Tensor> {
    return noGrad(() => Object.fromEntries(this.namedTensors().map(([k, t]) => [k, t.clone()])));
  }

  /** Overwrites every tensor in place from `state` (same keys and shapes); the caller keeps `state`. */
  loadStateDict(state: Readonly<Record<string, Tensor>>): void {
    const keys = [...this.store.keys()];
    const missing = keys.filter((k) => !(k in state));
    const extra = Object.keys(state).filter((k) => !this.store.has(k));
    if (missing.length || extra.length) {
      throw new SlimnetError(`auxiliary module '${this.name}': the state ${missing.length ? `lacks ${missing.join(', ')}` : ''}${missing.length && extra.length ? ' and ' : ''}${extra.length ? `has unknown ${extra.join(', ')}` : ''}`);
    }
    for (const [k, t] of this.store) {
      const src = state[k]!;
      if (src.shape.join() !== t.shape.join()) throw new SlimnetError(`auxiliary module '${this.name}': '${k}' has shape [${src.shape.join(', ')}] in the state, [${t.shape.join(', ')}] here`);
    }
    noGrad(() => tidy(() => {
      for (const [k, t] of this.store) t.copy_(state[k]!);
    }));
  }

  dispose(): void {
    for (const t of this.store.values()) t.dispose();
    this.store.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new SlimnetError(`auxiliary module '${this.name}' was disposed`);
  }
}
