// Autograd gradients of the functional ops, checked against central finite
// differences in float64 (see testing/gradcheck.ts). Tensors are tiny so the
// whole file runs in a few seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, manualSeed, randn, setNumThreads, tensor, zeros, ones, tidy, type Tensor, type Shape } from './index.js';
import { gradcheck, GradcheckError } from './testing/gradcheck.js';

// Thousands of calls on tiny tensors: one intra-op thread. With more, every
// parallel region is an OpenMP barrier, and when another process holds a
// core the spinning waits make this file ~25x slower.
setNumThreads(1);

/** A float64 leaf that requires grad, with standard normal entries. */
function leaf(shape: Shape, scale = 1): Tensor {
  const t = randn(shape, { dtype: 'float64' });
  if (scale !== 1) t.mul_(scale);
  t.requiresGrad = true;
  return t;
}

/** A float64 constant (no grad). */
function constant(shape: Shape): Tensor {
  return randn(shape, { dtype: 'float64' });
}

/** Runs a gradcheck inside tidy with a fixed seed and checks it compared something. */
function check(name: string, build: () => { fn: (...xs: Tensor[]) => Tensor | Tensor[]; inputs: Tensor[] }): void {
  test(name, () => {
    tidy(() => {
      manualSeed(1234);
      const { fn, inputs } = build();
      const expected = inputs.filter((t) => t.requiresGrad).reduce((n, t) => n + t.numel, 0);
      const report = gradcheck(fn, inputs);
      assert.equal(report.checked, expected);
    });
  });
}

// ---- convolution --------------------------------------------------------------

check('conv2d: plain', () => ({
  fn: (x, w) => F.conv2d(x, w),
  inputs: [leaf([2, 2, 5, 5]), leaf([3, 2, 3, 3])],
}));

check('conv2d: stride 2', () => ({
  fn: (x, w) => F.conv2d(x, w, { stride: 2 }),
  inputs: [leaf([2, 2, 5, 5]), leaf([3, 2, 3, 3])],
}));

check('conv2d: padding 1', () => ({
  fn: (x, w) => F.conv2d(x, w, { padding: 1 }),
  inputs: [leaf([2, 2, 5, 5]), leaf([3, 2, 3, 3])],
}));

check("conv2d: padding 'same' with an even kernel", () => ({
  fn: (x, w) => {
    const y = F.conv2d(x, w, { padding: 'same' });
    assert.deepEqual(y.shape, [2, 3, 5, 5]);
    return y;
  },
  inputs: [leaf([2, 2, 5, 5]), leaf([3, 2, 2, 2])],
}));

check('conv2d: dilation 2', () => ({
  fn: (x, w) => F.conv2d(x, w, { dilation: 2 }),
  inputs: [leaf([2, 2, 5, 5]), leaf([3, 2, 2, 2])],
}));

check('conv2d: groups 2', () => ({
  fn: (x, w) => F.conv2d(x, w, { groups: 2, padding: 1 }),
  inputs: [leaf([2, 4, 4, 4]), leaf([4, 2, 3, 3])],
}));

check('conv2d: depthwise (groups = channels)', () => ({
  fn: (x, w) => F.conv2d(x, w, { groups: 3, padding: 1 }),
  inputs: [leaf([2, 3, 4, 4]), leaf([3, 1, 3, 3])],
}));

check('conv2d: with bias', () => ({
  fn: (x, w, b) => F.conv2d(x, w, { bias: b, stride: [1, 2] }),
  inputs: [leaf([2, 2, 5, 5]), leaf([3, 2, 3, 3]), leaf([3])],
}));

check('convTranspose2d: stride 2, padding 1, output padding 1, bias', () => ({
  fn: (x, w, b) => {
    const y = F.convTranspose2d(x, w, { bias: b, stride: 2, padding: 1, outputPadding: 1 });
    assert.deepEqual(y.shape, [2, 3, 6, 6]); // (3 - 1) * 2 - 2 + 3 + 1
    return y;
  },
  inputs: [leaf([2, 2, 3, 3]), leaf([2, 3, 3, 3]), leaf([3])],
}));

check('linear with bias', () => ({
  fn: (x, w, b) => F.linear(x, w, b),
  inputs: [leaf([3, 4]), leaf([5, 4]), leaf([5])],
}));

// ---- normalisation ----------------------------------------------------------------

check('batchNorm: training, with weight and bias', () => ({
  fn: (x, w, b) => F.batchNorm(x, { weight: w, bias: b, training: true }),
  inputs: [leaf([3, 2, 3, 3]), leaf([2]), leaf([2])],
}));

test('batchNorm: training with running stats buffers updates them and differentiates correctly', () => {
  tidy(() => {
    manualSeed(7);
    const runningMean = zeros([2], { dtype: 'float64' });
    const runningVar = ones([2], { dtype: 'float64' });
    const x = leaf([4, 2, 3], 2);
    const fn = (xx: Tensor, w: Tensor, b: Tensor) => F.batchNorm(xx, { weight: w, bias: b, runningMean, runningVar, training: true, momentum: 0.5 });
    // One forward: running = (1 - m) * running + m * batch stat (unbiased variance).
    fn(x, ones([2], { dtype: 'float64' }), zeros([2], { dtype: 'float64' }));
    const batchMean = x.detach().mean([0, 2]).toArray();
    const batchVar = x.detach().var([0, 2]).toArray();
    const rm = runningMean.toArray();
    const rv = runningVar.toArray();
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(rm[c]! - 0.5 * batchMean[c]!) < 1e-12);
      assert.ok(Math.abs(rv[c]! - (0.5 + 0.5 * batchVar[c]!)) < 1e-12);
    }
    gradcheck(fn, [x, leaf([2]), leaf([2])]);
  });
});

check('batchNorm: eval mode uses the running statistics', () => {
  const runningMean = constant([2]);
  const runningVar = constant([2]).abs().add(0.5);
  return {
    fn: (x, w, b) => F.batchNorm(x, { weight: w, bias: b, runningMean, runningVar, training: false }),
    inputs: [leaf([3, 2, 3, 3]), leaf([2]), leaf([2])],
  };
});

// ---- pooling --------------------------------------------------------------------------

check('maxPool2d: kernel 2', () => ({
  fn: (x) => F.maxPool2d(x, 2),
  inputs: [leaf([2, 2, 5, 5])],
}));

check('maxPool2d: kernel 3, stride 2, padding 1', () => ({
  fn: (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  inputs: [leaf([2, 2, 5, 5])],
}));

check('avgPool2d: kernel 2 stride 1, padding 1', () => ({
  fn: (x) => F.avgPool2d(x, 2, { stride: 1, padding: 1 }),
  inputs: [leaf([2, 2, 5, 5])],
}));

check('adaptiveAvgPool2d: 5x5 -> 3x3 (overlapping windows)', () => ({
  fn: (x) => F.adaptiveAvgPool2d(x, 3),
  inputs: [leaf([2, 2, 5, 5])],
}));

// ---- losses ------------------------------------------------------------------------------

const targets = (): Tensor => tensor([0, 2, 1, 2], undefined, { dtype: 'int64' });

check('crossEntropy', () => {
  const t = targets();
  return { fn: (z) => F.crossEntropy(z, t), inputs: [leaf([4, 3])] };
});

check('crossEntropy: labelSmoothing 0.1', () => {
  const t = targets();
  return { fn: (z) => F.crossEntropy(z, t, { labelSmoothing: 0.1 }), inputs: [leaf([4, 3])] };
});

check('crossEntropy: class weights', () => {
  const t = targets();
  const weight = tensor([0.2, 1, 3], undefined, { dtype: 'float64' });
  return { fn: (z) => F.crossEntropy(z, t, { weight }), inputs: [leaf([4, 3])] };
});

check('crossEntropy: class weights and labelSmoothing, reduction sum', () => {
  const t = targets();
  const weight = tensor([0.2, 1, 3], undefined, { dtype: 'float64' });
  return { fn: (z) => F.crossEntropy(z, t, { weight, labelSmoothing: 0.1, reduction: 'sum' }), inputs: [leaf([4, 3])] };
});

check('klDiv batchmean (log-prob input, prob target; both differentiated)', () => ({
  fn: (z, t) => F.klDiv(z.logSoftmax(1), t.softmax(1), { reduction: 'batchmean' }),
  inputs: [leaf([3, 4]), leaf([3, 4])],
}));

check('mseLoss (input and target)', () => ({
  fn: (a, b) => F.mseLoss(a, b),
  inputs: [leaf([3, 4]), leaf([3, 4])],
}));

check('a small network: conv -> batchNorm -> relu -> maxPool -> linear -> crossEntropy', () => {
  const t = tensor([1, 0], undefined, { dtype: 'int64' });
  return {
    fn: (x, w, fcw) => {
      const h = F.maxPool2d(F.batchNorm(F.conv2d(x, w, { padding: 1 }), { training: true }).relu(), 2);
      return F.crossEntropy(F.linear(h.flatten(1), fcw), t);
    },
    inputs: [constant([2, 1, 4, 4]), leaf([2, 1, 3, 3]), leaf([2, 8])],
  };
});

// ---- the checker itself ---------------------------------------------------------------------

test('gradcheck detects a wrong gradient (detach in the middle of the graph)', () => {
  tidy(() => {
    manualSeed(3);
    const x = leaf([2, 3]);
    // d/dx (x * x) is 2x, but detaching one factor makes autograd report x.
    assert.throws(() => gradcheck((a) => a.mul(a.detach()), [x]), (e: unknown) => {
      assert.ok(e instanceof GradcheckError);
      assert.match(e.message, /input 0 .* element 0: autograd .* finite difference/);
      return true;
    });
    // The same function without the detach passes, so the failure above is the detach.
    gradcheck((a) => a.mul(a), [x]);
  });
});

test('gradcheck detects a gradient that is wrong for only one input', () => {
  tidy(() => {
    manualSeed(4);
    // w's path is cut, so autograd says dL/dw = 0 while the numbers move.
    const fn = (x: Tensor, w: Tensor) => F.linear(x, w.detach()).add(w.sum().detach());
    assert.throws(() => gradcheck(fn, [leaf([2, 3]), leaf([4, 3])]), /input 1/);
  });
});

test('gradcheck refuses float32 inputs and calls with nothing to check', () => {
  tidy(() => {
    const x32 = randn([3]);
    x32.requiresGrad = true;
    assert.throws(() => gradcheck((a) => a.mul(2), [x32]), /float64/);
    assert.throws(() => gradcheck((a) => a.mul(2), [constant([3])]), /no input requires grad/);
  });
});
