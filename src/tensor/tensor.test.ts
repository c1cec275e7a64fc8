// The Tensor API: creation, data read-back, views and indexing, joining,
// reductions, elementwise math, in-place ops, dtype conversion, the generic
// op bridge, seeding and autograd controls. Expected values are worked out
// by hand in the comments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  F,
  Tensor,
  tensor,
  scalar,
  zeros,
  ones,
  full,
  randn,
  rand,
  arange,
  linspace,
  eye,
  callOp,
  opSchema,
  listOps,
  manualSeed,
  getRngState,
  setRngState,
  noGrad,
  enableGrad,
  isGradEnabled,
  grad,
  tidy,
  type DType,
} from './index.js';

/** Asserts |actual[i] - expected[i]| <= tol elementwise. */
function close(actual: readonly number[], expected: readonly number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol, `element ${i}: ${a} != ${expected[i]} (tol ${tol})`));
}

// ---- creation and read-back ---------------------------------------------------------

test('tensor() from typed arrays keeps dtype, shape and exact values for every dtype', () => {
  tidy(() => {
    const cases: [DType, ArrayBufferView, string][] = [
      ['float32', new Float32Array([0.1, -2.5, 3e38, Number.MIN_VALUE, 1 / 3, -0]), 'Float32Array'],
      ['float64', new Float64Array([0.1, -2.5, 1e308, Number.MIN_VALUE, 1 / 3, Math.PI]), 'Float64Array'],
      ['int64', new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n), 9007199254740993n, 42n]), 'BigInt64Array'],
      ['int32', new Int32Array([0, -1, 2147483647, -2147483648, 7, 42]), 'Int32Array'],
      ['uint8', new Uint8Array([0, 1, 127, 128, 254, 255]), 'Uint8Array'],
    ];
    for (const [dtype, data, ctor] of cases) {
      const t = tensor(data as Float32Array, [2, 3]);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [2, 3]);
      const back = t.data();
      assert.equal(back.constructor.name, ctor);
      // Byte-for-byte: the float cases include -0 and denormals.
      assert.deepEqual(Buffer.from(back.buffer), Buffer.from(data.buffer, data.byteOffset, data.byteLength), dtype);
    }
    const b = tensor(new Uint8Array([1, 0, 1, 1]), [2, 2], { dtype: 'bool' });
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [1, 0, 1, 1]);
  });
});

test('tensor() from a typed-array view reads only the viewed range', () => {
  tidy(() => {
    const whole = new Float32Array([10, 11, 12, 13, 14]);
    const t = tensor(whole.subarray(1, 4));
    assert.deepEqual(t.shape, [3]);
    assert.deepEqual(t.toArray(), [11, 12, 13]);
    // A copy: changing the source array afterwards does not change the tensor.
    whole[2] = 99;
    assert.deepEqual(t.toArray(), [11, 12, 13]);
  });
});

test('tensor() from nested arrays for each dtype', () => {
  tidy(() => {
    const nested = [
      [1, -2, 3],
      [4, 5, -6],
    ];
    const f32 = tensor(nested);
    assert.equal(f32.dtype, 'float32'); // the default for numbers
    assert.deepEqual(f32.shape, [2, 3]);
    assert.deepEqual(f32.toArray(), [1, -2, 3, 4, 5, -6]);

    assert.deepEqual(tensor(nested, undefined, { dtype: 'float64' }).data(), new Float64Array([1, -2, 3, 4, 5, -6]));
    assert.deepEqual(tensor(nested, undefined, { dtype: 'int64' }).data(), new BigInt64Array([1n, -2n, 3n, 4n, 5n, -6n]));
    assert.deepEqual(tensor(nested, undefined, { dtype: 'int32' }).data(), new Int32Array([1, -2, 3, 4, 5, -6]));
    assert.deepEqual(tensor([[0, 200], [255, 7]], undefined, { dtype: 'uint8' }).data(), new Uint8Array([0, 200, 255, 7]));

    const b = tensor([[true, false], [false, true]]);
    assert.equal(b.dtype, 'bool'); // inferred from booleans
    assert.deepEqual(b.shape, [2, 2]);
    assert.deepEqual(b.toArray(), [1, 0, 0, 1]);
    // Numbers into bool: nonzero is true.
    assert.deepEqual(tensor([0, 2, -1], undefined, { dtype: 'bool' }).toArray(), [0, 1, 1]);

    // float32 rounding happens once, on the way in.
    assert.equal(tensor([0.1]).item(), Math.fround(0.1));
    // An explicit shape reshapes flat data.
    assert.deepEqual(tensor([1, 2, 3, 4, 5, 6], [3, 2]).shape, [3, 2]);
    // A 0-d tensor.
    const s = scalar(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 2.5);
  });
});

test('factories: zeros, ones, full, eye, arange, linspace', () => {
  tidy(() => {
    assert.deepEqual(zeros([2, 3]).toArray(), [0, 0, 0, 0, 0, 0]);
    assert.equal(zeros([2], { dtype: 'int64' }).dtype, 'int64');
    assert.deepEqual(ones([2, 2], { dtype: 'float64' }).data(), new Float64Array([1, 1, 1, 1]));
    assert.deepEqual(full([3], 7, { dtype: 'int32' }).data(), new Int32Array([7, 7, 7]));
    assert.deepEqual(full([2], -0.5).toArray(), [-0.5, -0.5]);
    assert.deepEqual(eye(3).toArray(), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.deepEqual(arange(5).toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(arange(2, 8, 2).toArray(), [2, 4, 6]);
    assert.deepEqual(arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]); // end excluded
    assert.deepEqual(arange(3, undefined, 1, { dtype: 'int64' }).data(), new BigInt64Array([0n, 1n, 2n]));
    assert.deepEqual(linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]); // end included
    assert.deepEqual(linspace(-1, 1, 3, { dtype: 'float64' }).data(), new Float64Array([-1, 0, 1]));
    assert.equal(zeros([2, 0, 3]).numel, 0);
    assert.equal(ones([3], { requiresGrad: true }).requiresGrad, true);
  });
});

test('randn and rand: shapes, ranges and moments', () => {
  tidy(() => {
    manualSeed(0);
    const u = rand([10000]).toArray();
    assert.ok(u.every((v) => v >= 0 && v < 1));
    const um = u.reduce((a, b) => a + b) / u.length;
    assert.ok(Math.abs(um - 0.5) < 0.02, `uniform mean ${um}`);

    const n = randn([100, 100], { dtype: 'float64' });
    assert.deepEqual(n.shape, [100, 100]);
    assert.equal(n.dtype, 'float64');
    // With 10,000 samples the sample mean is within 4 standard errors (0.04) of 0.
    assert.ok(Math.abs(n.mean().item()) < 0.04);
    assert.ok(Math.abs(n.std().item() - 1) < 0.03);
  });
});

// ---- shapes and views -----------------------------------------------------------------

test('reshape, view, flatten, permute, transpose, squeeze, unsqueeze', () => {
  tidy(() => {
    const m = arange(6).reshape(2, 3); // [[0,1,2],[3,4,5]]
    assert.deepEqual(m.shape, [2, 3]);
    assert.deepEqual(m.view([3, 2]).shape, [3, 2]);
    assert.deepEqual(m.view(-1).toArray(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(m.transpose(0, 1).toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(m.T.toArray(), [0, 3, 1, 4, 2, 5]);
    // A transposed tensor is not contiguous: view refuses, reshape copies.
    assert.throws(() => m.T.view(6), /view/);
    assert.deepEqual(m.T.reshape(6).toArray(), [0, 3, 1, 4, 2, 5]);

    const c = arange(24).reshape(2, 3, 4);
    const p = c.permute(2, 0, 1);
    assert.deepEqual(p.shape, [4, 2, 3]);
    // p[k][i][j] = c[i][j][k] = 12i + 4j + k; p[1] = [[1,5,9],[13,17,21]]
    assert.deepEqual(p.select(0, 1).toArray(), [1, 5, 9, 13, 17, 21]);
    assert.deepEqual(c.flatten(1).shape, [2, 12]);
    assert.deepEqual(c.flatten().shape, [24]);
    assert.deepEqual(c.flatten(0, 1).shape, [6, 4]);
    assert.deepEqual(zeros([1, 3, 1]).squeeze().shape, [3]);
    assert.deepEqual(zeros([1, 3, 1]).squeeze(0).shape, [3, 1]);
    assert.deepEqual(zeros([3]).unsqueeze(0).shape, [1, 3]);
    assert.deepEqual(tensor([1, 2]).unsqueeze(1).expand(2, 3).toArray(), [1, 1, 1, 2, 2, 2]);
  });
});

test('views share storage with their base; reshape of a contiguous tensor is a view', () => {
  tidy(() => {
    const base = zeros([2, 3]);
    const v = base.view(6);
    const row = base.select(0, 1);
    v.fill_(1);
    row.fill_(5);
    assert.deepEqual(base.toArray(), [1, 1, 1, 5, 5, 5]);
    // clone() copies.
    const copy = base.clone();
    copy.zero_();
    assert.deepEqual(base.toArray(), [1, 1, 1, 5, 5, 5]);
  });
});

test('index, slice, select, narrow, indexSelect, gatherIndex, chunk, split', () => {
  tidy(() => {
    const c = arange(24).reshape(2, 3, 4); // c[i][j][k] = 12i + 4j + k
    // c[1, 0:3:2, 1:] -> rows j = 0, 2 of block 1, columns k = 1..3
    const ix = c.index(1, [0, 3, 2], [1, null]);
    assert.deepEqual(ix.shape, [2, 3]);
    assert.deepEqual(ix.toArray(), [13, 14, 15, 21, 22, 23]);
    // c[:, -1] -> j = 2 for both blocks
    assert.deepEqual(c.index(null, -1).toArray(), [8, 9, 10, 11, 20, 21, 22, 23]);
    // c[0, 1, 2] -> 0-d
    const one = c.index(0, 1, 2);
    assert.deepEqual(one.shape, []);
    assert.equal(one.item(), 6);

    assert.deepEqual(c.slice(2, -2).shape, [2, 3, 2]);
    assert.deepEqual(c.slice(2, -2).select(0, 0).toArray(), [2, 3, 6, 7, 10, 11]);
    assert.deepEqual(c.slice(1, null, null, 2).select(0, 1).toArray(), [12, 13, 14, 15, 20, 21, 22, 23]);
    assert.deepEqual(c.select(2, -1).toArray(), [3, 7, 11, 15, 19, 23]);
    assert.deepEqual(c.narrow(1, 1, 2).select(0, 0).toArray(), [4, 5, 6, 7, 8, 9, 10, 11]);

    const m = arange(12).reshape(3, 4); // [[0..3],[4..7],[8..11]]
    assert.deepEqual(m.indexSelect(0, [2, 0]).toArray(), [8, 9, 10, 11, 0, 1, 2, 3]);
    assert.deepEqual(m.indexSelect(1, [3, 3, 1]).toArray(), [3, 3, 1, 7, 7, 5, 11, 11, 9]);
    assert.deepEqual(m.indexSelect(1, tensor([0], undefined, { dtype: 'int64' })).toArray(), [0, 4, 8]);
    // Boolean mask and integer gather.
    const mask = tensor([true, false, true]);
    assert.deepEqual(m.gatherIndex([mask]).shape, [2, 4]);
    assert.deepEqual(m.gatherIndex([null, tensor([1, 2], undefined, { dtype: 'int64' })]).toArray(), [1, 2, 5, 6, 9, 10]);

    const parts = arange(7).chunk(3);
    assert.deepEqual(parts.map((p) => p.toArray()), [[0, 1, 2], [3, 4, 5], [6]]);
    assert.deepEqual(arange(5).split(2).map((p) => p.toArray()), [[0, 1], [2, 3], [4]]);
  });
});

test('cat and stack', () => {
  tidy(() => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6]]);
    assert.deepEqual(F.cat([a, b]).toArray(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(F.cat([a, b]).shape, [3, 2]);
    assert.deepEqual(F.cat([a, a], 1).toArray(), [1, 2, 1, 2, 3, 4, 3, 4]);
    const s = F.stack([tensor([1, 2]), tensor([3, 4]), tensor([5, 6])]);
    assert.deepEqual(s.shape, [3, 2]);
    const s1 = F.stack([tensor([1, 2]), tensor([3, 4])], 1);
    assert.deepEqual(s1.shape, [2, 2]);
    assert.deepEqual(s1.toArray(), [1, 3, 2, 4]);
  });
});

// ---- reductions -------------------------------------------------------------------------

test('reductions: sum, mean, max, min, argmax, std, var, norm, topk, sort', () => {
  tidy(() => {
    const m = tensor([
      [1, 5, 2],
      [7, 0, 3],
    ]);
    assert.equal(m.sum().item(), 18);
    assert.deepEqual(m.sum(0).toArray(), [8, 5, 5]);
    assert.deepEqual(m.sum(1, true).shape, [2, 1]);
    assert.equal(m.mean().item(), 3);
    assert.deepEqual(m.mean(1).toArray(), [8 / 3, 10 / 3].map(Math.fround));
    assert.equal(m.max().item(), 7);
    assert.equal(m.min().item(), 0);
    assert.deepEqual(m.amax(0).toArray(), [7, 5, 3]);
    assert.deepEqual(m.amin(1).toArray(), [1, 0]);
    const am = m.argmax();
    assert.equal(am.dtype, 'int64');
    assert.equal(am.item(), 3); // flat index of 7
    assert.deepEqual(m.argmax(1).toArray(), [1, 0]);
    assert.deepEqual(m.argmin(0).toArray(), [0, 1, 0]);

    // 2,4,4,4,5,5,7,9: mean 5, squared deviations sum to 32.
    const x = tensor([2, 4, 4, 4, 5, 5, 7, 9], undefined, { dtype: 'float64' });
    assert.equal(x.var(undefined, { correction: 0 }).item(), 4); // 32 / 8
    assert.equal(x.std(undefined, { correction: 0 }).item(), 2);
    close([x.var().item()], [32 / 7], 1e-12); // Bessel: 32 / 7
    close([x.std().item()], [Math.sqrt(32 / 7)], 1e-12);
    // Per row, Bessel-corrected: [1,5,2] has mean 8/3 and squared deviations
    // (25 + 49 + 4) / 9 = 26/3, so var 13/3; [7,0,3]: (121 + 100 + 1) / 9 / 2 = 37/3.
    close(m.var(1).toArray(), [13 / 3, 37 / 3], 1e-5);
    assert.equal(tensor([3, 4]).norm().item(), 5);
    assert.equal(tensor([3, -4]).norm(1).item(), 7);

    const [vals, idx] = tensor([3, 1, 4, 1, 5]).topk(2);
    assert.deepEqual(vals!.toArray(), [5, 4]);
    assert.deepEqual(idx!.toArray(), [4, 2]);
    const [sorted, order] = tensor([3, 1, 2]).sort();
    assert.deepEqual(sorted!.toArray(), [1, 2, 3]);
    assert.deepEqual(order!.toArray(), [1, 2, 0]);
  });
});

// ---- elementwise -------------------------------------------------------------------------

test('elementwise arithmetic, broadcasting and unary functions', () => {
  tidy(() => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([10, 20]);
    assert.deepEqual(a.add(b).toArray(), [11, 22, 13, 24]); // b broadcasts over rows
    assert.deepEqual(a.add(b, 2).toArray(), [21, 42, 23, 44]); // a + 2b
    assert.deepEqual(a.sub(1).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(a.mul(a).toArray(), [1, 4, 9, 16]);
    assert.deepEqual(a.div(2).toArray(), [0.5, 1, 1.5, 2]);
    assert.deepEqual(a.pow(2).toArray(), [1, 4, 9, 16]);
    assert.deepEqual(tensor([2, 3]).pow(tensor([3, 2])).toArray(), [8, 9]);
    assert.deepEqual(a.matmul(a).toArray(), [7, 10, 15, 22]);
    assert.deepEqual(a.neg().abs().toArray(), [1, 2, 3, 4]);
    assert.deepEqual(tensor([-2, 0, 3]).sign().toArray(), [-1, 0, 1]);
    assert.deepEqual(tensor([-2, 0, 3]).relu().toArray(), [0, 0, 3]);
    assert.deepEqual(tensor([-2, 0.5, 3]).clamp(0, 1).toArray(), [0, 0.5, 1]);
    assert.deepEqual(tensor([1, 5]).maximum(tensor([3, 2])).toArray(), [3, 5]);
    assert.deepEqual(tensor([1, 5]).minimum(tensor([3, 2])).toArray(), [1, 2]);
    assert.deepEqual(tensor([4, 9]).sqrt().toArray(), [2, 3]);
    assert.deepEqual(tensor([4, 0.25]).rsqrt().toArray(), [0.5, 2]);
    assert.deepEqual(tensor([1.5, -1.5]).floor().toArray(), [1, -2]);
    assert.deepEqual(tensor([4, 0.5]).reciprocal().toArray(), [0.25, 2]);
    const x = tensor([0, 1, -1], undefined, { dtype: 'float64' });
    close(x.exp().toArray(), [1, Math.E, 1 / Math.E], 1e-15);
    close(x.exp().log().toArray(), [0, 1, -1], 1e-15);
    close(x.sin().toArray(), [0, Math.sin(1), Math.sin(-1)], 1e-15);
    close(x.cos().toArray(), [1, Math.cos(1), Math.cos(-1)], 1e-15);
    close(x.tanh().toArray(), [0, Math.tanh(1), Math.tanh(-1)], 1e-15);
    close(x.sigmoid().toArray(), [0.5, 1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(1))], 1e-15);
    // softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
    const sm = tensor([0, Math.log(2), Math.log(3)], undefined, { dtype: 'float64' });
    close(sm.softmax(0).toArray(), [1 / 6, 2 / 6, 3 / 6], 1e-15);
    close(sm.logSoftmax(0).toArray(), [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6)], 1e-15);
    // Integer tensors keep their dtype with whole-number scalars.
    assert.equal(tensor([1, 2], undefined, { dtype: 'int32' }).add(1).dtype, 'int32');
  });
});

test('comparisons produce bool tensors; where, maskedFill, isfinite, allclose', () => {
  tidy(() => {
    const a = tensor([1, 2, 3]);
    const b = tensor([3, 2, 1]);
    assert.equal(a.eq(b).dtype, 'bool');
    assert.deepEqual(a.eq(b).toArray(), [0, 1, 0]);
    assert.deepEqual(a.ne(b).toArray(), [1, 0, 1]);
    assert.deepEqual(a.lt(b).toArray(), [1, 0, 0]);
    assert.deepEqual(a.le(2).toArray(), [1, 1, 0]);
    assert.deepEqual(a.gt(b).toArray(), [0, 0, 1]);
    assert.deepEqual(a.ge(2).toArray(), [0, 1, 1]);
    assert.deepEqual(a.where(a.gt(1), -1).toArray(), [-1, 2, 3]);
    assert.deepEqual(a.where(a.gt(1), b).toArray(), [3, 2, 3]);
    assert.deepEqual(a.maskedFill(a.eq(2), 0).toArray(), [1, 0, 3]);
    assert.deepEqual(tensor([1, Infinity, NaN, -Infinity]).isfinite().toArray(), [1, 0, 0, 0]);
    assert.equal(a.allclose(a.add(1e-7)), true);
    assert.equal(a.allclose(b), false);
  });
});

test('in-place ops return the same JS object and modify its data', () => {
  tidy(() => {
    const x = tensor([1, 2, 3]);
    assert.equal(x.add_(1), x);
    assert.deepEqual(x.toArray(), [2, 3, 4]);
    assert.equal(x.mul_(tensor([1, 2, 3])), x);
    assert.deepEqual(x.toArray(), [2, 6, 12]);
    assert.equal(x.sub_(2, 0.5), x); // x - 0.5 * 2
    assert.deepEqual(x.toArray(), [1, 5, 11]);
    assert.equal(x.div_(2), x);
    assert.deepEqual(x.toArray(), [0.5, 2.5, 5.5]);
    assert.equal(x.clamp_(1, 5), x);
    assert.deepEqual(x.toArray(), [1, 2.5, 5]);
    assert.equal(x.addcmul_(tensor([1, 1, 1]), tensor([2, 2, 2]), 0.5), x); // += 0.5 * 1 * 2
    assert.deepEqual(x.toArray(), [2, 3.5, 6]);
    assert.equal(x.addcdiv_(tensor([4, 4, 4]), tensor([2, 4, 8])), x); // += 4 / [2,4,8]
    assert.deepEqual(x.toArray(), [4, 4.5, 6.5]);
    assert.equal(x.lerp_(tensor([0, 0, 0]), 0.5), x);
    assert.deepEqual(x.toArray(), [2, 2.25, 3.25]);
    assert.equal(x.fill_(4), x);
    assert.equal(x.sqrt_(), x);
    assert.deepEqual(x.toArray(), [2, 2, 2]);
    assert.equal(x.copy_(tensor([7, 8, 9])), x);
    assert.deepEqual(x.toArray(), [7, 8, 9]);
    assert.equal(x.zero_(), x);
    assert.deepEqual(x.toArray(), [0, 0, 0]);
    manualSeed(1);
    const u = zeros([1000]);
    assert.equal(u.uniform_(2, 3), u);
    assert.ok(u.toArray().every((v) => v >= 2 && v < 3));
    assert.equal(u.normal_(10, 0.1), u);
    assert.ok(Math.abs(u.mean().item() - 10) < 0.05);
  });
});

test('to() converts dtypes: truncation toward zero, nonzero to true, exact widening', () => {
  tidy(() => {
    const t = tensor([-1.7, -0.5, 0, 0.5, 1.7]);
    assert.deepEqual(t.to('int32').data(), new Int32Array([-1, 0, 0, 0, 1]));
    assert.deepEqual(t.to('int64').data(), new BigInt64Array([-1n, 0n, 0n, 0n, 1n]));
    assert.deepEqual(t.to('bool').toArray(), [1, 1, 0, 1, 1]);
    assert.equal(t.to('float64').dtype, 'float64');
    // float32 -> float64 is exact: the widened values are the float32 values.
    assert.deepEqual(Array.from(t.double().data() as Float64Array), [-1.7, -0.5, 0, 0.5, 1.7].map(Math.fround));
    assert.deepEqual(tensor([300, 255], undefined, { dtype: 'int32' }).to('uint8').toArray(), [44, 255]); // 300 mod 256
    assert.equal(t.float().dtype, 'float32');
    assert.equal(t.long().dtype, 'int64');
    assert.equal(t.to({ dtype: 'float64' }).dtype, 'float64');
    assert.equal(t.to('cpu').device, 'cpu');
  });
});

test('metadata: shape, ndim, numel, size(), dtype, device, toString', () => {
  tidy(() => {
    const t = zeros([2, 3, 4]);
    assert.equal(t.ndim, 3);
    assert.equal(t.numel, 24);
    assert.equal(t.size(-1), 4);
    assert.equal(t.size(0), 2);
    assert.throws(() => t.size(3), RangeError);
    assert.equal(t.device, 'cpu');
    assert.equal(String(tensor([1, 2])), 'Tensor([2], float32) [1, 2]');
  });
});

// ---- the generic op bridge ---------------------------------------------------------------

test('callOp reaches any ATen op by schema name', () => {
  tidy(() => {
    const a = tensor([0, 10, 20]);
    const b = tensor([10, 20, 40]);
    const r = callOp('aten::lerp.Scalar', a, b, 0.25); // a + 0.25 (b - a)
    assert.ok(r instanceof Tensor);
    assert.deepEqual(r.toArray(), [2.5, 12.5, 25]);
    assert.deepEqual(a.toArray(), [0, 10, 20]); // out-of-place leaves a alone
    // The namespace defaults to aten; ops with several returns give an array.
    const [values, indices] = callOp('max.dim', tensor([[1, 9], [8, 2]]), 1, false) as Tensor[];
    assert.deepEqual(values!.toArray(), [9, 8]);
    assert.deepEqual(indices!.toArray(), [1, 0]);
    // Non-tensor returns come back as plain values.
    assert.equal(callOp('aten::size.int', zeros([3, 5]), 1), 5);
    assert.equal(callOp('aten::is_floating_point', zeros([1])), true);
    assert.match(opSchema('aten::lerp.Scalar'), /^aten::lerp\.Scalar\(Tensor self, Tensor end, Scalar weight\) -> Tensor/);
  });
});

test('callOp on an in-place op returns the very same Tensor object', () => {
  tidy(() => {
    const a = tensor([0, 10, 20]);
    const b = tensor([10, 20, 40]);
    const r = callOp('aten::lerp_.Scalar', a, b, 0.5);
    assert.equal(r, a);
    assert.deepEqual(a.toArray(), [5, 15, 30]);
    // out= variants hand back the out tensor.
    const out = zeros([3]);
    assert.equal(callOp('aten::add.out', a, b, 1, out), out);
    assert.deepEqual(out.toArray(), [15, 35, 70]);
  });
});

test('listOps() lists the registered operators', () => {
  const names = listOps();
  assert.ok(names.length > 2000, `${names.length} ops`);
  assert.ok(names.includes('aten::conv2d'));
  assert.ok(names.includes('aten::add.Tensor'));
  assert.ok(names.includes('aten::lerp_.Scalar'));
});

// ---- randomness ----------------------------------------------------------------------------

test('manualSeed makes random draws reproducible', () => {
  tidy(() => {
    manualSeed(42);
    const a = randn([8]).toArray();
    const u = rand([4]).toArray();
    manualSeed(42);
    assert.deepEqual(randn([8]).toArray(), a);
    assert.deepEqual(rand([4]).toArray(), u);
    manualSeed(43);
    assert.notDeepEqual(randn([8]).toArray(), a);
  });
});

test('getRngState / setRngState replay the same draws', () => {
  tidy(() => {
    manualSeed(5);
    randn([3]); // advance somewhere arbitrary
    const state = getRngState();
    assert.equal(state.dtype, 'uint8');
    const first = randn([16]).toArray();
    const second = randn([16]).toArray();
    assert.notDeepEqual(first, second);
    setRngState(state);
    assert.deepEqual(randn([16]).toArray(), first);
    assert.deepEqual(randn([16]).toArray(), second);
  });
});

// ---- autograd ---------------------------------------------------------------------------------

test('noGrad disables recording and restores the mode, even when fn throws', () => {
  tidy(() => {
    const w = ones([2], { requiresGrad: true });
    assert.equal(isGradEnabled(), true);
    assert.equal(w.mul(2).requiresGrad, true);
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return w.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);

    assert.throws(
      () =>
        noGrad(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(isGradEnabled(), true);
    assert.equal(w.mul(2).requiresGrad, true);

    // enableGrad inside noGrad records again; the outer mode comes back after.
    noGrad(() => {
      assert.equal(enableGrad(() => w.mul(2)).requiresGrad, true);
      assert.equal(isGradEnabled(), false);
    });
    // An async function would leak the mode across awaits: refused, mode restored.
    assert.throws(() => noGrad((async () => 1) as unknown as () => number), /synchronous/);
    assert.equal(isGradEnabled(), true);
  });
});

test('backward fills .grad of leaves; retainGrad keeps .grad on a non-leaf', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
    const h = x.mul(x); // non-leaf
    assert.equal(x.isLeaf, true);
    assert.equal(h.isLeaf, false);
    h.retainGrad();
    const loss = h.mul(tensor([1, 10, 100])).sum(); // dL/dh = [1,10,100], dL/dx = 2x * that
    loss.backward();
    assert.deepEqual(h.grad!.toArray(), [1, 10, 100]);
    assert.deepEqual(x.grad!.toArray(), [2, 40, 600]);

    // Without retainGrad, a non-leaf has no .grad.
    const h2 = x.mul(3);
    h2.sum().backward();
    assert.equal(h2.grad, null);
    // Gradients accumulate into leaves until cleared.
    assert.deepEqual(x.grad!.toArray(), [5, 43, 603]);
    x.grad = null;
    assert.equal(x.grad, null);
  });
});

test('grad() of x^3 is 3x^2, and with createGraph the second derivative is 6x', () => {
  tidy(() => {
    const xs = [-2, -0.5, 0, 1, 3];
    const x = tensor(xs, undefined, { dtype: 'float64', requiresGrad: true });
    const y = x.pow(3).sum();
    const [g] = grad([y], [x], { createGraph: true });
    assert.deepEqual(g!.toArray(), xs.map((v) => 3 * v * v));
    assert.equal(x.grad, null); // grad() does not touch .grad
    const [g2] = grad([g!.sum()], [x]);
    assert.deepEqual(g2!.toArray(), xs.map((v) => 6 * v));

    // An input the output does not depend on: error, or null with allowUnused.
    const unused = tensor([1], undefined, { dtype: 'float64', requiresGrad: true });
    assert.throws(() => grad([x.sum()], [unused]));
    assert.deepEqual(grad([x.sum()], [x, unused], { allowUnused: true })[1], null);
  });
});

test('detach() shares data but cuts the graph', () => {
  tidy(() => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    assert.deepEqual(d.toArray(), [1, 2]);
    d.mul_(10); // same storage
    assert.deepEqual(x.toArray(), [10, 20]);
    // Only the non-detached path contributes: d(x * d)/dx = d.
    x.mul(d).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [10, 20]);
  });
});

test('requiresGrad: only floating-point tensors can require grad', () => {
  tidy(() => {
    const x = zeros([2]);
    assert.equal(x.requiresGrad, false);
    assert.equal(x.requiresGrad_(), x);
    assert.equal(x.requiresGrad, true);
    x.requiresGrad = false;
    assert.equal(x.requiresGrad, false);
    const i = zeros([2], { dtype: 'int64' });
    assert.throws(() => {
      i.requiresGrad = true;
    }, /floating point/);
  });
});
