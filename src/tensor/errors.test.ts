// Failures are JS exceptions with useful messages, never a crashed process:
// shape mismatches name the op and the shapes, bad arguments name the
// argument, and misuse of tensors raises typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  F,
  tensor,
  zeros,
  ones,
  callOp,
  opSchema,
  tidy,
  OpError,
  SlimnetError,
  DisposedTensorError,
  type Tensor,
} from './index.js';

/** Asserts that fn throws an OpError for `op` whose message contains every fragment. */
function throwsOpError(fn: () => unknown, op: string, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OpError, `expected OpError, got ${String(e)}`);
    assert.ok(e instanceof SlimnetError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'OpError');
    assert.equal(e.op, op);
    for (const f of [op, ...fragments]) assert.ok(e.message.includes(f), `message lacks '${f}': ${e.message}`);
    return true;
  });
}

// ---- shape mismatches ------------------------------------------------------------------

test('conv2d with mismatched channels names the op and both shapes', () => {
  tidy(() => {
    throwsOpError(() => F.conv2d(zeros([1, 2, 5, 5]), zeros([4, 3, 3, 3])), 'aten::conv2d', '[4, 3, 3, 3]', '[1, 2, 5, 5]', 'channels');
  });
});

test('matmul with incompatible shapes names the op and the shapes', () => {
  tidy(() => {
    throwsOpError(() => zeros([2, 3]).matmul(zeros([4, 5])), 'aten::matmul', '[2, 3]', '[4, 5]');
    throwsOpError(() => F.linear(zeros([2, 3]), zeros([5, 4])), 'aten::linear', '[2, 3]', '[5, 4]');
  });
});

test('add of non-broadcastable shapes names the op and the shapes', () => {
  tidy(() => {
    throwsOpError(() => zeros([2, 3]).add(zeros([4, 5])), 'aten::add.Tensor', '[2, 3]', '[4, 5]', 'must match');
    // In-place ops cannot broadcast the destination either.
    throwsOpError(() => zeros([3]).add_(zeros([2, 3])), 'aten::add_.Tensor', '[3]', '[2, 3]');
  });
});

test('the OpError keeps the native error as its cause', () => {
  tidy(() => {
    try {
      zeros([2]).add(zeros([3]));
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof OpError);
      assert.ok(e.cause instanceof Error);
    }
  });
});

// ---- bad arguments -----------------------------------------------------------------------

test('a string where a tensor is expected names the argument', () => {
  tidy(() => {
    throwsOpError(() => callOp('aten::add.Tensor', 'hello', zeros([2])), 'aten::add.Tensor', "'self'", 'expects a tensor', 'string');
    throwsOpError(() => callOp('aten::add.Tensor', zeros([2]), 3), 'aten::add.Tensor', "'other'", 'expects a tensor', 'number');
    throwsOpError(() => callOp('aten::neg', null), 'aten::neg', "'self'", 'not optional');
  });
});

test('a non-integer where an int is expected names the argument', () => {
  tidy(() => {
    throwsOpError(() => zeros([2, 2]).select(0, 1.5), 'aten::select.int', "'index'", 'integer');
    throwsOpError(() => zeros([2, 2]).sum([0.5]), 'aten::sum.dim_IntList', "'dim'", 'integer');
    throwsOpError(() => zeros([2, 2]).select(0, NaN), 'aten::select.int', "'index'", 'integer');
    throwsOpError(() => zeros([2, 2]).reshape(4, '1' as unknown as number), 'aten::reshape', "'shape'", 'integer', 'string');
    throwsOpError(() => callOp('aten::sum.dim_IntList', zeros([2]), [0], 'yes'), 'aten::sum.dim_IntList', "'keepdim'", 'boolean');
  });
});

test('a missing required argument and too many arguments are reported', () => {
  tidy(() => {
    throwsOpError(() => callOp('aten::add.Tensor', zeros([2])), 'aten::add.Tensor', "missing required argument 'other'");
    throwsOpError(() => callOp('aten::lerp.Scalar', zeros([2]), zeros([2])), 'aten::lerp.Scalar', "'weight'");
    throwsOpError(() => callOp('aten::neg', zeros([2]), 1, 2), 'aten::neg', 'takes 1 arguments, got 3');
  });
});

test('an unknown op name throws OpError naming it', () => {
  throwsOpError(() => callOp('aten::frobnicate', 1), 'aten::frobnicate', 'unknown op');
  throwsOpError(() => opSchema('aten::add.NoSuchOverload'), 'aten::add.NoSuchOverload', 'unknown op');
  // The namespace defaults to aten.
  throwsOpError(() => callOp('frobnicate'), 'aten::frobnicate', 'unknown op');
});

test('errors inside kernels (index out of range, bad target) are OpErrors too', () => {
  tidy(() => {
    throwsOpError(() => zeros([2]).select(0, 5), 'aten::select.int', 'out of range');
    throwsOpError(() => zeros([3]).indexSelect(0, [5]), 'aten::index_select', 'out of range');
    throwsOpError(() => F.crossEntropy(zeros([2, 3]), tensor([0, 5], undefined, { dtype: 'int64' })), 'aten::cross_entropy_loss', 'out of bounds');
    throwsOpError(() => F.cat([]), 'aten::cat', 'non-empty');
  });
});

// ---- misuse of tensors ------------------------------------------------------------------------

test('using a disposed tensor throws DisposedTensorError', () => {
  const t = ones([2]);
  t.dispose();
  assert.equal(t.isDisposed, true);
  const isDisposedError = (e: unknown): boolean => e instanceof DisposedTensorError && e instanceof SlimnetError && /disposed/.test(e.message);
  assert.throws(() => t.add(1), isDisposedError);
  assert.throws(() => t.shape, isDisposedError);
  assert.throws(() => t.toArray(), isDisposedError);
  assert.throws(() => t.item(), isDisposedError);
  tidy(() => {
    const live = ones([2]);
    assert.throws(() => live.add(t), isDisposedError); // as an argument
    assert.throws(() => F.cat([live, t]), isDisposedError); // inside a list
    assert.throws(() => callOp('aten::neg', t), isDisposedError);
  });
  // A tensor disposed by its scope behaves the same.
  let escaped: Tensor | undefined;
  tidy(() => {
    escaped = ones([1]);
  });
  assert.throws(() => escaped!.mul(2), isDisposedError);
  assert.equal(String(escaped), 'Tensor(disposed)');
});

test('tensor() rejects ragged nested arrays and data that does not fill the shape', () => {
  assert.throws(() => tensor([[1, 2], [3]]), RangeError);
  // Ragged, although the element count (9) happens to fill the inferred 3x3.
  assert.throws(() => tensor([[1, 2, 3], [4, 5, 6, 7, 8], [9]]), /ragged/);
  assert.throws(() => tensor([[1, 2], [3, [4]]] as unknown as number[][]), RangeError);
  assert.throws(() => tensor([1, [2]] as unknown as number[]), RangeError);
  assert.throws(() => tensor([1, 2, 3], [2, 2]), (e: unknown) => e instanceof RangeError && /3 values do not fill shape \[2, 2\]/.test(e.message));
  assert.throws(() => tensor(new Float32Array(5), [2, 3]), (e: unknown) => e instanceof RangeError && /5 values do not fill shape \[2, 3\] \(6 elements\)/.test(e.message));
  // A typed array of the wrong width for the dtype.
  assert.throws(() => tensor(new Float32Array(3), [3], { dtype: 'float64' }), RangeError);
});

test('a bad dtype string throws naming the dtype', () => {
  assert.throws(() => zeros([2], { dtype: 'float33' as 'float32' }), (e: unknown) => e instanceof OpError && e.message.includes("unknown dtype 'float33'"));
  assert.throws(() => tensor([1, 2], undefined, { dtype: 'foo' as 'float32' }), (e: unknown) => e instanceof TypeError && e.message.includes("unknown dtype 'foo'"));
  assert.throws(() => tensor(new Float32Array(2), [2], { dtype: 'foo' as 'float32' }), /unknown dtype 'foo'/);
  tidy(() => {
    assert.throws(() => zeros([2]).to('half' as 'float32'), /unknown dtype 'half'/);
  });
});

test('autograd misuse throws instead of crashing', () => {
  tidy(() => {
    const x = ones([2], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(), /only for scalar outputs/);
    assert.throws(() => zeros([1]).sum().backward(), /does not require grad/);
    const y = x.exp().sum();
    y.backward();
    assert.throws(() => y.backward(), /second time/);
    assert.throws(() => zeros([2]).item(), /2 elements/);
  });
});

// ---- the process survives --------------------------------------------------------------------

test('a batch of bad calls in a child process never aborts it', () => {
  const index = new URL('./index.ts', import.meta.url).href;
  const native = new URL('./native.ts', import.meta.url).href;
  const script = `
    const T = await import(${JSON.stringify(index)});
    const { native } = await import(${JSON.stringify(native)});
    const i64 = (v) => T.tensor(v, undefined, { dtype: 'int64' });
    const bad = [
      () => T.zeros([2 ** 40, 2 ** 10]),                       // allocation failure
      () => T.zeros([-1]),
      () => T.tensor(new Float32Array(0), [2 ** 32, 2 ** 32]), // byte count overflows to 0
      () => T.zeros([0]).item(),
      () => T.zeros([2]).select(0, 100),
      () => T.zeros([3]).gatherIndex([i64([7])]),
      () => T.callOp('aten::index_put_', T.zeros([3]), [i64([7])], T.ones([1]), false),
      () => T.callOp('aten::embedding', T.zeros([3, 2]), i64([9])),
      () => T.callOp('aten::scatter.value', T.zeros([3]), 0, i64([9]), 1),
      () => T.F.conv2d(T.zeros([1, 1, 3, 3]), T.zeros([1, 1, 1, 1]), { stride: 0 }),
      () => T.F.conv2d(T.zeros([1, 1, 2, 2]), T.zeros([1, 1, 5, 5])),
      () => T.F.maxPool2d(T.zeros([1, 1, 2, 2]), 5),
      () => T.zeros([4]).view(-1, -1),
      () => T.zeros([1]).to('cuda'),
      () => T.zeros([1], { device: 'tpu' }),
      () => T.setRngState(T.zeros([3])),
      () => { const x = T.zeros([2]).requiresGrad_(); x.grad = T.zeros([3]); x.mul(2).sum().backward(); },
      () => native.toArray(T.op('aten::neg').handle),           // an op handle where a tensor belongs
      () => native.call(T.zeros([1]).handle),                   // a tensor handle where an op belongs
      () => native.call(),
      () => native.dispose(3),
      () => native.meta(),
      () => native.fromArray([1, 2], [2], 'float32'),
      () => native.fromArray(new Float32Array(2), 'x', 'float32'),
      () => native.findOp(3, ''),
      () => native.setNumThreads(0),
      () => native.manualSeed('x'),
      () => native.grad('x', [], null, false, false, false),
      () => { const t = T.ones([1]); const h = t.handle; t.dispose(); native.call(T.op('aten::neg').handle, h); },
    ];
    let thrown = 0;
    for (const f of bad) {
      try { f(); } catch (e) { if (e instanceof Error) thrown++; }
    }
    console.log('survived ' + thrown + '/' + bad.length);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `child killed by ${r.signal}; stderr: ${r.stderr}`);
  assert.equal(r.status, 0, `child exited ${r.status}; stderr: ${r.stderr}`);
  const m = /survived (\d+)\/(\d+)/.exec(r.stdout);
  assert.ok(m, `no report from the child; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  assert.equal(m[1], m[2], 'every bad call threw a JS Error');
});
