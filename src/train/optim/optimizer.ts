// The optimizer base: parameter groups with their own hyperparameters, a
// per-parameter state of tensors (plus a step count), zeroGrad, and export /
// import of that state for checkpoints. Subclasses implement update(), which
// step() calls once per parameter that has a gradient, under noGrad and inside
// a tidy scope, so every temporary an update creates is released when the
// step returns.
import { Tensor, keep, noGrad, tidy, scalar, type Device } from '../../tensor/index.js';

/** Hyperparameters every group has. */
export interface BaseHyper {
  lr: number;
}

/** A group of parameters sharing hyperparameters. */
export type ParamGroup<H extends BaseHyper> = H & { params: Tensor[]; label?: string };

/**
 * What a constructor accepts for a group: parameters plus overrides of the
 * defaults. `label` names the group for display (e.g. 'conv.decay'); it is
 * not a hyperparameter and stays out of stateDict().
 */
export type ParamGroupInit<H extends BaseHyper> = Partial<H> & { params: Tensor[]; label?: string };

/** Tensors and the update count an optimizer keeps for one parameter. */
export interface ParamState {
  /** Number of updates applied to this parameter. */
  step: number;
  /** Named state tensors (momentum buffers, moment estimates), owned by the optimizer. */
  tensors: Record<string, Tensor>;
}

/**
 * An optimizer's state as tensors, for checkpoints. Parameters are numbered
 * across groups in order (the numbering PyTorch's state_dict uses); tensor
 * names are `state.<index>.<key>`, and `state.<index>.step` is a float64
 * scalar with the update count. `groups` holds the hyperparameters of each
 * group (without the tensors) and can be stored as JSON.
 */
export interface OptimizerState<H extends BaseHyper = BaseHyper> {
  type: string;
  groups: { hyper: H; params: number[] }[];
  tensors: Record<string, Tensor>;
}

export abstract class Optimizer<H extends BaseHyper> {
  readonly paramGroups: ParamGroup<H>[];
  /** Per-parameter state, created on the parameter's first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  private disposed = false;

  protected constructor(
    params: readonly Tensor[] | readonly ParamGroupInit<H>[],
    readonly defaults: H,
  ) {
    const inits: ParamGroupInit<H>[] = params.length > 0 && params[0] instanceof Tensor
      ? [{ params: [...(params as readonly Tensor[])] } as ParamGroupInit<H>]
      : [...(params as readonly ParamGroupInit<H>[])];
    if (inits.length === 0) throw new RangeError(`${this.constructor.name}: no parameters to optimize`);
    const seen = new Set<Tensor>();
    this.paramGroups = inits.map((g, i) => {
      if (!Array.isArray(g.params) || g.params.length === 0) throw new RangeError(`${this.constructor.name}: parameter group ${i} has no parameters`);
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new TypeError(`${this.constructor.name}: parameter group ${i} holds a non-tensor`);
        if (seen.has(p)) throw new RangeError(`${this.constructor.name}: a parameter appears in more than one group`);
        seen.add(p);
      }
      const group = { ...defaults, ...stripUndefined(g), params: [...g.params] } as ParamGroup<H>;
      this.validate(group);
      return group;
    });
  }

  /** Throws a RangeError for hyperparameters out of range. */
  protected abstract validate(group: H): void;

  /**
   * Updates `param` in place from `grad`. Runs under noGrad inside a tidy
   * scope: temporaries need no explicit dispose; state tensors must be
   * created through newState() so they outlive the scope.
   */
  protected abstract update(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<H>): void;

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    this.assertLive();
    noGrad(() =>
      tidy(() => {
        for (const group of this.paramGroups) {
          for (const p of group.params) {
            const g = p.grad;
            if (g === null) continue;
            let st = this.state.get(p);
            if (!st) {
              st = { step: 0, tensors: {} };
              this.state.set(p, st);
            }
            st.step += 1;
            this.update(p, g, st, group);
          }
        }
      }),
    );
  }

  /** Sets every parameter's gradient to null (the next backward allocates fresh ones). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.grad = null;
  }

  /** Registers `t` as state: it leaves the scope that created it and lives until dispose(). */
  protected newState(t: Tensor): Tensor {
    return keep(t);
  }

  /**
   * The state as tensors, for checkpoints. The tensors are new handles on the
   * live state (no copy): write them out before the next step(), and dispose
   * them (or let a scope do it) afterwards.
   */
  stateDict(): OptimizerState<H> {
    this.assertLive();
    const tensors: Record<string, Tensor> = {};
    const groups: OptimizerState<H>['groups'] = [];
    let index = 0;
    for (const { params, label: _label, ...hyper } of this.paramGroups) {
      const ids: number[] = [];
      for (const p of params) {
        const st = this.state.get(p);
        if (st) {
          tensors[`state.${index}.step`] = scalar(st.step, { dtype: 'float64' });
          for (const [k, t] of Object.entries(st.tensors)) tensors[`state.${index}.${k}`] = t.share();
        }
        ids.push(index++);
      }
      groups.push({ hyper: { ...hyper } as unknown as H, params: ids });
    }
    return { type: this.constructor.name, groups, tensors };
  }

  /**
   * Restores state exported by stateDict() of an optimizer of the same type
   * over parameters of the same shapes. Values are copied: the caller keeps
   * ownership of `state.tensors`. Group hyperparameters are restored too.
   */
  loadStateDict(state: OptimizerState<H>): void {
    this.assertLive();
    const name = this.constructor.name;
    if (state.type !== name) throw new TypeError(`${name}.loadStateDict: state is from ${state.type}`);
    if (state.groups.length !== this.paramGroups.length) {
      throw new RangeError(`${name}.loadStateDict: state has ${state.groups.length} groups, optimizer has ${this.paramGroups.length}`);
    }
    const params: Tensor[] = [];
    this.paramGroups.forEach((g, i) => {
      const sg = state.groups[i]!;
      if (sg.params.length !== g.params.length) {
        throw new RangeError(`${name}.loadStateDict: group ${i} has ${sg.params.length} parameters in the state, ${g.params.length} here`);
      }
      params.push(...g.params);
    });
    // Parse and check everything before touching the live state.
    const incoming = new Map<number, { step: number; tensors: Record<string, Tensor> }>();
    for (const [key, t] of Object.entries(state.tensors)) {
      const m = /^state\.(\d+)\.(.+)$/.exec(key);
      if (!m) throw new RangeError(`${name}.loadStateDict: unexpected tensor name '${key}'`);
      const index = Number(m[1]);
      const p = params[index];
      if (!p) throw new RangeError(`${name}.loadStateDict: '${key}' names parameter ${index}, optimizer has ${params.length}`);
      let entry = incoming.get(index);
      if (!entry) incoming.set(index, (entry = { step: 0, tensors: {} }));
      if (m[2] === 'step') {
        entry.step = t.item();
      } else {
        if (!sameShape(t.shape, p.shape)) {
          throw new RangeError(`${name}.loadStateDict: '${key}' has shape [${t.shape.join(', ')}], parameter ${index} has [${p.shape.join(', ')}]`);
        }
        entry.tensors[m[2]!] = t;
      }
    }
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
    noGrad(() =>
      tidy(() => {
        for (const [index, entry] of incoming) {
          const p = params[index]!;
          const tensors: Record<string, Tensor> = {};
          for (const [k, t] of Object.entries(entry.tensors)) tensors[k] = keep(t.to({ dtype: p.dtype, device: p.device as Device }).clone());
          this.state.set(p, { step: entry.step, tensors });
        }
      }),
    );
    this.paramGroups.forEach((g, i) => Object.assign(g, state.groups[i]!.hyper, { params: g.params, label: g.label }));
  }

  /** Releases the state tensors. The parameters belong to the caller and stay. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`${this.constructor.name}: optimizer was disposed`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
