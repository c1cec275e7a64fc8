// Gradient checking against central finite differences, for tests.
//
// For a function f of tensors, the check reduces every output to a scalar
// with fixed random weights, L = sum_k sum(f(x)_k * w_k), and compares
// autograd's dL/dx with the numeric estimate (L(x + eps) - L(x - eps)) / 2eps
// taken element by element of every input that requires grad. Use float64
// inputs: in float32 the rounding error of the difference swamps eps.
import { Tensor } from '../tensor.js';
import { randn, scalar } from '../create.js';
import { grad, noGrad } from '../autograd.js';
import { tidy } from '../scope.js';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Absolute tolerance: |analytic - numeric| <= atol + rtol * |numeric|. */
  atol?: number;
  rtol?: number;
}

export interface GradcheckReport {
  /** Elements compared, over all checked inputs. */
  checked: number;
  /** Largest |analytic - numeric| seen. */
  maxAbsError: number;
}

export class GradcheckError extends Error {
  override name = 'GradcheckError';
}

type Outputs = Tensor | readonly Tensor[];

function asList(o: Outputs): readonly Tensor[] {
  return o instanceof Tensor ? [o] : o;
}

/**
 * Throws GradcheckError naming the input and element where autograd and the
 * finite-difference estimate disagree; returns a small report otherwise.
 * `fn` must be deterministic (no dropout) and must not modify its inputs.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Outputs, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const checkedIdx = inputs.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  if (checkedIdx.length === 0) throw new GradcheckError('gradcheck: no input requires grad');
  for (const i of checkedIdx) {
    if (inputs[i]!.dtype !== 'float64') throw new GradcheckError(`gradcheck: input ${i} is ${inputs[i]!.dtype}; use float64`);
  }

  return tidy(() => {
    // Fixed weights, one per output element, so every output element matters
    // with a different coefficient (a plain sum hides sign and ordering bugs).
    const weights = noGrad(() => asList(fn(...inputs)).map((o) => randn(o.shape, { dtype: o.dtype === 'float32' ? 'float32' : 'float64' })));
    const loss = (outs: Outputs): Tensor => {
      const list = asList(outs);
      if (list.length !== weights.length) throw new GradcheckError(`gradcheck: fn returned ${list.length} outputs, expected ${weights.length} (is it deterministic?)`);
      let total = scalar(0, { dtype: 'float64' });
      for (let k = 0; k < list.length; k++) total = total.add(list[k]!.mul(weights[k]!).sum());
      return total;
    };

    // Analytic: one backward pass through autograd.
    const analytic = grad([loss(fn(...inputs))], checkedIdx.map((i) => inputs[i]!), { allowUnused: true }).map((g, k) =>
      g === null ? new Float64Array(inputs[checkedIdx[k]!]!.numel) : (g.to('float64').data() as Float64Array),
    );

    // Numeric: central differences, perturbing one element in place at a time.
    const evalLoss = (): number => noGrad(() => tidy(() => loss(fn(...inputs)).item()));
    let checked = 0;
    let maxAbsError = 0;
    checkedIdx.forEach((inputIdx, k) => {
      const x = inputs[inputIdx]!;
      const flat = x.detach().view(-1); // shares x's storage
      const original = x.data() as Float64Array;
      for (let e = 0; e < original.length; e++) {
        const set = (v: number): void => noGrad(() => tidy(() => void flat.select(0, e).fill_(v)));
        set(original[e]! + eps);
        const plus = evalLoss();
        set(original[e]! - eps);
        const minus = evalLoss();
        set(original[e]!);
        const numeric = (plus - minus) / (2 * eps);
        const a = analytic[k]![e]!;
        const err = Math.abs(a - numeric);
        maxAbsError = Math.max(maxAbsError, err);
        checked++;
        if (!(err <= atol + rtol * Math.abs(numeric))) {
          throw new GradcheckError(
            `gradcheck: input ${inputIdx} (shape [${x.shape.join(', ')}]) element ${e}: autograd ${a}, finite difference ${numeric} ` +
              `(|diff| ${err.toExponential(3)} > atol ${atol} + rtol ${rtol} * |numeric|)`,
          );
        }
      }
    });
    return { checked, maxAbsError };
  });
}
