// Hooks that replace node outputs, several hooks in one forward, hook sets as
// a release scope, and gradients through a replacement. Truths: a graph
// edited by hand (a channel_scale node), a hand-derived gradient, finite
// differences, and each capture run alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, randn, rand, setNumThreads, tensor, tidy, type Tensor } from '../tensor/index.js';
import { Capture, GraphBuilder, HookSet, Model, composeHooks, insertScale, mapOutput, type Graph, type GraphNode, type Hooks } from './index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const values = (t: Tensor): number[] => t.toArray();

/** conv → bn → relu → conv, residual add, pool, flatten, linear: outputs the logits and 'res'. */
function net(): Graph {
  const b = new GraphBuilder('hooked');
  const x = b.input([3, 6, 6]);
  const r1 = b.relu(b.batchnorm2d(b.conv2d(x, 4, 3, { padding: 1 })));
  const c2 = b.conv2d(r1, 4, 3, { padding: 1 });
  const res = b.add([r1, c2], { name: 'res' });
  const f = b.flatten(b.maxpool2d(res, 2), { name: 'flat' });
  return b.build(b.linear(f, 5), res);
}

/** A hook that records every tensor it is shown, by node. */
function recorder(): Hooks & { seen: Map<string, Tensor[]> } {
  const seen = new Map<string, Tensor[]>();
  return {
    seen,
    onOutput(node: GraphNode, out: Tensor) {
      seen.set(node.name, [...(seen.get(node.name) ?? []), out]);
    },
  };
}

test('replacing an output changes downstream results exactly as the hand-edited graph (a channel_scale node) does', () => {
  const g = net();
  const m = Model.create(g, { seed: 3 }).eval();
  const alpha = tidy(() => rand([4]).mul(2).sub(0.5));
  const edited = m.derive(insertScale(g, 'relu1'));
  noGrad(() => edited.tensor('relu1_scale.weight').copy_(alpha));
  assert.deepEqual(
    edited.graph.nodes.map((n) => n.name),
    ['input', 'conv1', 'bn1', 'relu1', 'relu1_scale', 'conv2', 'res', 'maxpool1', 'flat', 'fc1'],
  );
  assert.deepEqual(edited.graph.node('conv2').inputs, ['relu1_scale']);
  assert.deepEqual(edited.graph.node('res').inputs, ['relu1_scale', 'conv2']);
  tidy(() => {
    const x = randn([2, 3, 6, 6]);
    const scale = mapOutput(['relu1'], (out) => out.mul(alpha.reshape([4, 1, 1])));
    const [logits, res] = m.forwardAll(x, { hooks: scale });
    const [wantLogits, wantRes] = edited.forwardAll(x);
    assert.deepEqual(values(logits!), values(wantLogits!));
    assert.deepEqual(values(res!), values(wantRes!));
    // The check can fail: without the hook the outputs differ.
    assert.notDeepEqual(values(m.forward(x)), values(logits!));
    // Replacing a graph output replaces what is returned; replacing the input feeds every reader the new one.
    const [, doubled] = m.forwardAll(x, { hooks: mapOutput(['res'], (out) => out.mul(2)) });
    assert.deepEqual(values(doubled!), values(m.forwardAll(x)[1]!.mul(2)));
    const viaInput = m.forward(x, { hooks: mapOutput((n) => n.kind === 'input', (out) => out.mul(0.5)) });
    assert.deepEqual(values(viaInput), values(m.forward(x.mul(0.5))));
    assert.ok(!x.isDisposed, "the caller's input survives its replacement");
  });
  m.dispose();
  edited.dispose();
  alpha.dispose();
});

test('a replaced output and superseded replacements are released; nothing the forward made outlives it but its outputs', () => {
  const m = Model.create(net(), { seed: 4 });
  tidy(() => {
    const before = recorder();
    const made: Tensor[] = [];
    const twice = (out: Tensor): Tensor => {
      const y = out.mul(2);
      made.push(y);
      return y;
    };
    const after = recorder();
    const outs = m.forwardAll(randn([2, 3, 6, 6]), { hooks: [before, mapOutput(['conv2', 'res'], twice), mapOutput(['conv2'], twice), after] });
    const kept = new Set(outs);
    // conv2 was replaced twice: its own output and the first replacement are gone, the second was read by 'res' and released after.
    assert.equal(made.length, 3);
    for (const t of [...before.seen.values(), ...after.seen.values()].flat()) {
      if (before.seen.get('input')![0] === t) continue;
      assert.equal(t.isDisposed, !kept.has(t), `a tensor is ${t.isDisposed ? 'released' : 'alive'} though it is ${kept.has(t) ? '' : 'not '}an output`);
    }
    for (const t of made) assert.equal(t.isDisposed, !kept.has(t));
    assert.ok(kept.has(after.seen.get('res')![0]!), "the graph output 'res' is the last replacement");
    assert.ok(before.seen.get('res')![0]!.isDisposed, "res's own output was released when it was replaced");
  });
  // A throwing hook: everything computed so far is released, the error propagates.
  const seen = recorder();
  assert.throws(
    () =>
      m.forward(randn([1, 3, 6, 6]), {
        hooks: [
          seen,
          {
            onOutput(node) {
              if (node.name === 'res') throw new Error('hook failed');
            },
          },
        ],
      }),
    /hook failed/,
  );
  assert.ok([...seen.seen.entries()].filter(([n]) => n !== 'input').every(([, ts]) => ts.every((t) => t.isDisposed)));
  m.dispose();
});

test('two composed captures see the same tensors as each alone, in one forward; order decides what each sees', () => {
  const m = Model.create(net(), { seed: 5 }).eval();
  tidy(() => {
    const x = randn([3, 3, 6, 6]);
    const alone = (names: string[]): Map<string, number[]> => {
      const cap = new Capture(names);
      m.forward(x, { hooks: cap });
      const out = new Map(cap.names.map((n) => [n, values(cap.activation(n))]));
      cap.dispose();
      return out;
    };
    const a = alone(['conv1', 'relu1']);
    const b = alone(['relu1', 'res']);
    let runs = 0;
    const counter: Hooks = { onOutput: (n) => void (n.name === 'conv1' && runs++) };
    const capA = new Capture(['conv1', 'relu1']);
    const capB = new Capture(['relu1', 'res']);
    m.forward(x, { hooks: composeHooks(capA, counter, capB) });
    assert.equal(runs, 1, 'one forward');
    for (const [n, v] of a) assert.deepEqual(values(capA.activation(n)), v);
    for (const [n, v] of b) assert.deepEqual(values(capB.activation(n)), v);
    capA.dispose();
    capB.dispose();
    // A capture before a replacement sees the original, one after it the replacement.
    const pre = new Capture(['relu1']);
    const post = new Capture(['relu1']);
    m.forward(x, { hooks: [pre, mapOutput(['relu1'], (o) => o.neg()), post] });
    assert.deepEqual(values(post.activation('relu1')), values(pre.activation('relu1').neg()));
    pre.dispose();
    post.dispose();
  });
  m.dispose();
});

test('a hook set attached to a model runs on every forward until disposed, and disposing it releases its captures', () => {
  const m = Model.create(net(), { seed: 6 }).eval();
  tidy(() => {
    const x = randn([2, 3, 6, 6]);
    const plain = values(m.forward(x));
    const set = m.attach(new Capture(['relu1']), mapOutput(['relu1'], (o) => o.mul(0)));
    const cap = set.hooks[0] as Capture;
    assert.equal(m.attachedHooks.length, 1);
    const zeroed = values(m.forward(x));
    assert.notDeepEqual(zeroed, plain);
    const held = cap.activation('relu1');
    // Per-call hooks run after the attached ones and see their replacement.
    const late = new Capture(['relu1']);
    m.forward(x, { hooks: late });
    assert.ok(values(late.activation('relu1')).every((v) => v === 0));
    late.dispose();
    set.dispose();
    assert.ok(held.isDisposed && cap.isDisposed, 'captures released with the set');
    assert.equal(m.attachedHooks.length, 0);
    assert.deepEqual(values(m.forward(x)), plain, 'detached: the model runs as before');
    // detach() stops a set without releasing what it captured; `using` disposes at block end.
    const keepSet = m.attach(new Capture(['res']));
    m.forward(x);
    keepSet.detach();
    assert.equal(m.attachedHooks.length, 0);
    assert.ok(!(keepSet.hooks[0] as Capture).activation('res').isDisposed);
    keepSet.dispose();
    let inner: Capture;
    {
      using scoped = new HookSet();
      inner = scoped.add(new Capture(['res']));
      m.forward(x, { hooks: scoped });
      assert.ok(!inner.isDisposed);
    }
    assert.ok(inner.isDisposed);
    // One set on two models: disposing one model detaches it there only.
    const other = m.clone().eval();
    const shared = new HookSet(mapOutput(['relu1'], (o) => o.mul(0)));
    m.attach(shared);
    other.attach(shared);
    other.dispose();
    assert.equal(m.attachedHooks.length, 1);
    assert.notDeepEqual(values(m.forward(x)), plain, 'still attached to the live model');
    shared.dispose();
    assert.equal(m.attachedHooks.length, 0);
  });
  m.dispose();
});

test('gradients flow through a replacement: the edited graph’s, the hand-derived and the finite-difference gradients agree', () => {
  // y = c2(α ⊙ relu(c1(x))), L = Σ y·w: L is linear in α, so a central difference is exact up to rounding.
  const b = new GraphBuilder('grad');
  const x0 = b.input([2, 5, 5]);
  const r = b.relu(b.conv2d(x0, 3, 3, { padding: 1, name: 'c1' }), { name: 'r' });
  const g = b.build(b.conv2d(r, 2, 3, { padding: 1, name: 'c2' }));
  const m = Model.create(g, { seed: 7 });
  const edited = m.derive(insertScale(g, 'r', 'alpha'));
  tidy(() => {
    const x = randn([2, 2, 5, 5]);
    const w = randn([2, 2, 5, 5]);
    const alpha = tensor([0.7, 1.3, -0.4]).requiresGrad_();
    noGrad(() => edited.tensor('alpha.weight').copy_(alpha));
    const pre = new Capture(['r'], { grads: true });
    const post = new Capture(['r'], { grads: true });
    const scale = mapOutput(['r'], (o) => o.mul(alpha.reshape([3, 1, 1])));
    m.forward(x, { hooks: [pre, scale, post] }).mul(w).sum().backward();
    edited.forward(x).mul(w).sum().backward();
    const gAlpha = values(alpha.grad!);
    // The hand-edited graph: the same gradient for α and for every weight.
    assert.deepEqual(gAlpha, values(edited.tensor('alpha.weight').grad!));
    for (const k of ['c1.weight', 'c1.bias', 'c2.weight', 'c2.bias']) assert.deepEqual(values(m.tensor(k).grad!), values(edited.tensor(k).grad!), k);
    assert.ok(values(m.tensor('c1.weight').grad!).some((v) => v !== 0), 'gradients reach the layer before the replacement');
    // By hand from g = dL/d(α ⊙ r): dL/dα_c = Σ r·g over batch and space, dL/dr = α_c · g.
    const gScaled = post.gradient('r')!;
    const byHand = values(pre.activation('r').mul(gScaled).sum([0, 2, 3]));
    gAlpha.forEach((v, c) => assert.ok(Math.abs(v - byHand[c]!) <= 1e-4 * Math.max(1, Math.abs(v)), `dL/dα[${c}]: autograd ${v}, by hand ${byHand[c]}`));
    const gr = values(pre.gradient('r')!);
    const want = values(gScaled.mul(alpha.detach().reshape([3, 1, 1])));
    gr.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-6 * Math.max(1, Math.abs(v)), `dL/dr[${i}]: ${v} vs ${want[i]}`));
    // Finite differences on each α_c.
    noGrad(() => {
      const lossAt = (a: number[]): number => m.forward(x, { hooks: mapOutput(['r'], (o) => o.mul(tensor(a).reshape([3, 1, 1]))) }).mul(w).sum().item() as number;
      const base = values(alpha.detach());
      for (let c = 0; c < 3; c++) {
        const h = 0.25;
        const fd = (lossAt(base.map((v, i) => (i === c ? v + h : v))) - lossAt(base.map((v, i) => (i === c ? v - h : v)))) / (2 * h);
        assert.ok(Math.abs(fd - gAlpha[c]!) <= 2e-3 * Math.max(1, Math.abs(fd)), `α[${c}]: autograd ${gAlpha[c]}, finite difference ${fd}`);
      }
    });
    pre.dispose();
    post.dispose();
  });
  m.dispose();
  edited.dispose();
});
