// Scopes: tidy(), keep(), the Scope class with `using`, dispose(), and
// storage that outlives the handle it came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scope, Tensor, arange, keep, ones, tensor, tidy, trackedCount, zeros } from './index.js';

test('tidy disposes intermediates and keeps the returned tensor', () => {
  const start = trackedCount();
  let a: Tensor | undefined;
  let b: Tensor | undefined;
  const out = tidy(() => {
    a = ones([3]);
    b = a.mul(2);
    assert.equal(trackedCount(), start + 2);
    return b.add(1);
  });
  assert.equal(a!.isDisposed, true);
  assert.equal(b!.isDisposed, true);
  assert.equal(out.isDisposed, false);
  assert.deepEqual(out.toArray(), [3, 3, 3]);
  assert.equal(trackedCount(), start); // no scope is open out here
  out.dispose();
});

test('tidy keeps tensors returned in arrays, plain objects and Maps', () => {
  let scratch: Tensor | undefined;
  const r = tidy(() => {
    scratch = zeros([1]);
    return { list: [ones([1]), [ones([2])]], named: { w: ones([3]) }, map: new Map([['k', ones([4])]]), n: 5 };
  });
  assert.equal(scratch!.isDisposed, true);
  const kept = [r.list[0] as Tensor, (r.list[1] as Tensor[])[0]!, r.named.w, r.map.get('k')!];
  assert.deepEqual(
    kept.map((t) => t.numel),
    [1, 2, 3, 4],
  );
  for (const t of kept) {
    assert.equal(t.isDisposed, false);
    t.dispose();
  }
  assert.equal(r.n, 5);
});

test('nested tidy: survivors move to the enclosing scope and die with it', () => {
  const start = trackedCount();
  let inner: Tensor | undefined;
  let innerScratch: Tensor | undefined;
  const outer = tidy(() => {
    inner = tidy(() => {
      innerScratch = ones([2]);
      return innerScratch.mul(3);
    });
    assert.equal(innerScratch!.isDisposed, true);
    assert.equal(inner.isDisposed, false);
    assert.equal(trackedCount(), start + 1); // inner is now tracked by the outer scope
    return inner.sum();
  });
  assert.equal(inner!.isDisposed, true); // not returned by the outer scope
  assert.equal(outer.item(), 6);
  assert.equal(trackedCount(), start);
  outer.dispose();
});

test('tidy disposes everything, the would-be result included, when fn throws', () => {
  const start = trackedCount();
  const made: Tensor[] = [];
  assert.throws(
    () =>
      tidy(() => {
        made.push(ones([2]), zeros([2]));
        throw new Error('failed mid-way');
      }),
    /failed mid-way/,
  );
  assert.ok(made.every((t) => t.isDisposed));
  assert.equal(trackedCount(), start);
  // The scope stack is intact: the next tidy works as usual.
  const t = tidy(() => ones([1]).add(1));
  assert.equal(t.item(), 2);
  t.dispose();
});

test('async tidy closes its scope when the promise settles', async () => {
  const start = trackedCount();
  let before: Tensor | undefined;
  let after: Tensor | undefined;
  const result = await tidy(async () => {
    before = ones([2]);
    await new Promise((r) => setTimeout(r, 5));
    after = before.mul(5);
    return after.sum();
  });
  assert.equal(before!.isDisposed, true);
  assert.equal(after!.isDisposed, true);
  assert.equal(result.isDisposed, false);
  assert.equal(result.item(), 10);
  result.dispose();
  assert.equal(trackedCount(), start);

  let doomed: Tensor | undefined;
  await assert.rejects(
    tidy(async () => {
      doomed = ones([1]);
      await Promise.resolve();
      throw new Error('async failure');
    }),
    /async failure/,
  );
  assert.equal(doomed!.isDisposed, true);
  assert.equal(trackedCount(), start);
});

test('keep() exempts a tensor from every open scope', () => {
  const start = trackedCount();
  let kept: Tensor | undefined;
  let other: Tensor | undefined;
  tidy(() => {
    tidy(() => {
      kept = keep(ones([2]));
      other = ones([2]);
      assert.equal(trackedCount(), start + 1); // only `other`
    });
  });
  assert.equal(other!.isDisposed, true);
  assert.equal(kept!.isDisposed, false);
  assert.deepEqual(kept!.toArray(), [1, 1]);
  kept!.dispose(); // kept tensors are the caller's to dispose
  assert.equal(kept!.isDisposed, true);
});

test('`using` a Scope disposes what the block created', () => {
  const start = trackedCount();
  let inside: Tensor | undefined;
  {
    using scope = new Scope();
    inside = ones([2]).mul(2);
    assert.ok(scope instanceof Scope);
    assert.equal(trackedCount(), start + 2);
  }
  assert.equal(inside.isDisposed, true);
  assert.equal(trackedCount(), start);

  // `using` on a tensor itself disposes it at the end of the block.
  let t: Tensor | undefined;
  {
    using own = ones([1]);
    t = own;
    assert.equal(own.isDisposed, false);
  }
  assert.equal(t.isDisposed, true);
});

test('a Scope also ends by an explicit end(survivors) or [Symbol.dispose]() call', () => {
  const start = trackedCount();
  const s = new Scope();
  const scratch = ones([2]);
  const result = scratch.add(1);
  s.end(result);
  assert.equal(scratch.isDisposed, true);
  assert.equal(result.isDisposed, false);
  s.end(); // ending twice is a no-op: result stays alive
  assert.equal(result.isDisposed, false);
  result.dispose();

  const s2 = new Scope();
  const x = zeros([3]);
  s2[Symbol.dispose]();
  assert.equal(x.isDisposed, true);
  assert.equal(trackedCount(), start);

  // A Scope's survivors move to the enclosing tidy.
  let moved: Tensor | undefined;
  tidy(() => {
    const inner = new Scope();
    moved = ones([1]);
    inner.end(moved);
    assert.equal(moved.isDisposed, false);
  });
  assert.equal(moved!.isDisposed, true);
});

test('dispose() is idempotent', () => {
  const t = ones([4]);
  t.dispose();
  t.dispose();
  t[Symbol.dispose]();
  assert.equal(t.isDisposed, true);
  // Disposing a tensor a scope already disposed is fine too.
  const u = tidy(() => {
    const v = ones([1]);
    return { v };
  }).v;
  u.dispose();
  u.dispose();
  assert.equal(u.isDisposed, true);
});

test('a view keeps its storage alive after the base is disposed', () => {
  const base = arange(10);
  const view = base.slice(0, 2, 8, 2); // [2, 4, 6]
  const row = base.view(2, 5).select(0, 1); // [5..9]
  base.dispose();
  assert.equal(base.isDisposed, true);
  // Churn the allocator so freed memory would be reused if the storage had gone.
  const churn = Array.from({ length: 20 }, (_, i) => tensor(new Float32Array(10).fill(-i)));
  assert.deepEqual(view.toArray(), [2, 4, 6]);
  assert.deepEqual(row.toArray(), [5, 6, 7, 8, 9]);
  // Writes through one view are seen by the other: one shared storage.
  row.fill_(0);
  assert.deepEqual(view.toArray(), [2, 4, 0]);
  for (const c of [...churn, view, row]) c.dispose();

  // The same when tidy() disposes the base and returns the view.
  const kept = tidy(() => arange(6).reshape(2, 3).select(1, 2)); // column 2: [2, 5]
  assert.deepEqual(kept.toArray(), [2, 5]);
  kept.dispose();
});

test('share() gives an independent handle on the same tensor', () => {
  const a = tensor([1, 2, 3]);
  const b = a.share();
  a.dispose();
  assert.equal(b.isDisposed, false);
  assert.deepEqual(b.toArray(), [1, 2, 3]);
  b.dispose();
});

test('trackedCount returns to its start value after a mixed workload', () => {
  const start = trackedCount();
  for (let i = 0; i < 50; i++) {
    tidy(() => {
      const x = ones([4]).mul(i);
      const parts = x.chunk(2);
      tidy(() => parts.map((p) => p.add(1)));
      return x.sum();
    }).dispose();
  }
  assert.equal(trackedCount(), start);
});
