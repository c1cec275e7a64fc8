// Autograd controls beyond Tensor.backward(): grad mode scopes and
// torch.autograd.grad for gradients with respect to chosen inputs.
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { guarded } from './errors.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(enabled);
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError('noGrad/enableGrad take a synchronous function: grad mode is per thread and would leak across awaits');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs `fn` without recording autograd history (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with autograd recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** Backpropagates from several outputs at once (gradients default to ones for scalars). */
export function backward(outputs: Tensor[], gradients?: (Tensor | null)[], opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
  guarded('backward', () =>
    native.backward(
      outputs.map((t) => t.handle),
      gradients ? gradients.map((g) => (g ? g.handle : null)) : null,
      opts.retainGraph ?? false,
      opts.createGraph ?? false,
    ),
  );
}

export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on instead of throwing. */
  allowUnused?: boolean;
}

/** d(outputs)/d(inputs) without touching .grad (torch.autograd.grad). */
export function grad(outputs: Tensor[], inputs: Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const res = guarded('grad', () =>
    native.grad(
      outputs.map((t) => t.handle),
      inputs.map((t) => t.handle),
      opts.gradOutputs ? opts.gradOutputs.map((g) => (g ? g.handle : null)) : null,
      opts.retainGraph,
      opts.createGraph ?? false,
      opts.allowUnused ?? false,
    ),
  );
  return res.map((h) => (h === null ? null : new Tensor(h)));
}
