// Graph editing and freezing. Truths: a scale of 1 changes nothing; a
// BatchNorm folded into its conv by hand computes what conv → bn computed; a
// cut-out part fed the whole model's activation gives the whole model's
// activation downstream; a frozen parameter is bit-identical after
// optimizer steps that move every other one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, rand, randn, setNumThreads, tidy, type Tensor } from '../tensor/index.js';
import { Adam } from '../train/optim/index.js';
import { Capture, GraphBuilder, GraphError, Model, extractSubgraph, insertAfter, insertScale, replaceSubgraph, summarize, type Graph } from './index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const values = (t: Tensor): number[] => t.toArray();

function net(): Graph {
  const b = new GraphBuilder('edit');
  const x = b.input([3, 8, 8]);
  const c1 = b.relu(b.batchnorm2d(b.conv2d(x, 4, 3, { padding: 1 })));
  const c2 = b.conv2d(c1, 4, 3, { padding: 1 });
  const r = b.add([c1, c2], { name: 'res' });
  const d = b.dropout(b.maxpool2d(r, 2), 0.3, { name: 'drop' });
  return b.build(b.linear(b.flatten(d, { name: 'flat' }), 5));
}

/** BatchNorm statistics and affine parameters away from their initial values. */
function randomiseNorms(m: Model): void {
  noGrad(() => {
    m.tensor('bn1.weight').copy_(tidy(() => rand([4]).add(0.5)));
    m.tensor('bn1.bias').copy_(tidy(() => randn([4]).mul(0.3)));
    m.tensor('bn1.running_mean').copy_(tidy(() => randn([4]).mul(0.2)));
    m.tensor('bn1.running_var').copy_(tidy(() => rand([4]).add(0.5)));
  });
}

const isGraphError = (re: RegExp) => (e: unknown) => e instanceof GraphError && re.test(e.message);

test('insertAfter: the new node reads the old one, every reader and output is rewired, names stay, a scale of 1 changes nothing', () => {
  const g = net();
  const e = insertScale(g, 'relu1');
  assert.deepEqual(e.node('relu1_scale').inputs, ['relu1']);
  assert.deepEqual(e.node('conv2').inputs, ['relu1_scale']);
  assert.deepEqual(e.node('res').inputs, ['relu1_scale', 'conv2']);
  assert.deepEqual(e.node('relu1_scale').attrs, { features: 4 });
  const same = (x: Graph) => x.nodes.filter((n) => n.name !== 'relu1_scale').map((n) => ({ name: n.name, kind: n.kind, attrs: n.attrs }));
  assert.deepEqual(same(e), same(g), 'every other node unchanged but its inputs');
  // After a graph output: the output moves to the new node.
  const atOut = insertAfter(g, 'fc1', { name: 'probs', kind: 'softmax', attrs: { axis: 1 } });
  assert.deepEqual(atOut.outputs, ['probs']);
  assert.equal(summarize(e).totals.params, summarize(g).totals.params + 4);
  const m = Model.create(g, { seed: 1 }).eval();
  randomiseNorms(m);
  const scaled = m.derive(e);
  assert.equal(scaled.training, false, 'derive keeps the mode');
  assert.deepEqual(values(scaled.tensor('relu1_scale.weight')), [1, 1, 1, 1]);
  for (const [k, t] of m.namedTensors()) assert.deepEqual(values(scaled.tensor(k)), values(t), `${k} carried over`);
  tidy(() => {
    const x = randn([2, 3, 8, 8]);
    assert.deepEqual(values(scaled.forward(x)), values(m.forward(x)));
    noGrad(() => scaled.tensor('relu1_scale.weight').mul_(1.5));
    assert.notDeepEqual(values(scaled.forward(x)), values(m.forward(x)));
  });
  assert.throws(() => insertScale(g, 'conv1', 'conv2'), isGraphError(/cannot insert 'conv2' after 'conv1': a node of that name exists/));
  assert.throws(() => insertScale(g, 'nope'), isGraphError(/no node named 'nope'/));
  m.dispose();
  scaled.dispose();
});

test('replaceSubgraph: conv → bn replaced by the conv with the BatchNorm folded in by hand computes the same; removing a node; boundary errors', () => {
  const g = net();
  const m = Model.create(g, { seed: 2 }).eval();
  randomiseNorms(m);
  // The replacement: one conv named like the old one, reading a placeholder input.
  const rb = new GraphBuilder('folded');
  const rx = rb.input([3, 8, 8], { name: 'x' });
  const folded = replaceSubgraph(g, ['conv1', 'bn1'], rb.build(rb.conv2d(rx, 4, 3, { padding: 1, name: 'conv1' })));
  assert.deepEqual(
    folded.nodes.map((n) => n.name),
    g.nodes.filter((n) => n.name !== 'bn1').map((n) => n.name),
  );
  assert.deepEqual(folded.node('conv1').inputs, ['input']);
  assert.deepEqual(folded.node('relu1').inputs, ['conv1']);
  const fm = m.derive(folded);
  noGrad(() => {
    // W' = W · γ/√(σ²+ε) per output channel, b' = (b − μ) · γ/√(σ²+ε) + β.
    const k = m.tensor('bn1.weight').div(m.tensor('bn1.running_var').add(1e-5).sqrt());
    fm.tensor('conv1.weight').copy_(m.tensor('conv1.weight').mul(k.reshape([4, 1, 1, 1])));
    fm.tensor('conv1.bias').copy_(m.tensor('conv1.bias').sub(m.tensor('bn1.running_mean')).mul(k).add(m.tensor('bn1.bias')));
  });
  tidy(() => {
    const x = randn([2, 3, 8, 8]);
    const [a, b] = [m.forward(x), fm.forward(x)];
    assert.ok(a.allclose(b, 1e-5, 1e-5), `folded differs by ${a.sub(b).abs().max().item()}`);
  });
  // A replacement that is only its input removes the nodes: dropout out, readers read the pool.
  const idb = new GraphBuilder('none');
  const id = idb.input([4, 4, 4]);
  const noDrop = replaceSubgraph(g, ['drop'], idb.build(id));
  assert.deepEqual(noDrop.node('flat').inputs, ['maxpool1']);
  assert.ok(!noDrop.has('drop'));
  const nm = m.derive(noDrop);
  tidy(() => {
    const x = randn([2, 3, 8, 8]);
    assert.deepEqual(values(nm.forward(x)), values(m.forward(x)), 'dropout is the identity in eval mode');
  });
  // Two entries, two exits, a wrong input shape, a kept name.
  const one = (shape: number[]): Graph => {
    const b = new GraphBuilder('r');
    return b.build(b.relu(b.input(shape), { name: 'fresh' }));
  };
  assert.throws(() => replaceSubgraph(g, ['res'], one([4, 8, 8])), isGraphError(/subgraph \[res\] must read exactly one node outside it, reads 'relu1', 'conv2'/));
  assert.throws(() => replaceSubgraph(g, ['bn1', 'relu1', 'conv2'], one([4, 8, 8])), isGraphError(/must have exactly one node read outside it, has 'relu1', 'conv2'/));
  assert.throws(() => replaceSubgraph(g, ['conv2'], one([3, 8, 8])), isGraphError(/takes \[3, 8, 8\] but the entry 'relu1' gives \[4, 8, 8\]/));
  const clash = new GraphBuilder('c');
  assert.throws(() => replaceSubgraph(g, ['conv2'], clash.build(clash.relu(clash.input([4, 8, 8]), { name: 'res' }))), isGraphError(/'res' clashes with a node the graph keeps/));
  m.dispose();
  fm.dispose();
  nm.dispose();
});

test('extractSubgraph: the part between two nodes, fed the whole model’s activation, gives the whole model’s activation', () => {
  const g = net();
  const sub = extractSubgraph(g, ['relu1'], ['res'], 'block');
  assert.deepEqual(
    sub.nodes.map((n) => [n.name, n.kind]),
    [
      ['relu1', 'input'],
      ['conv2', 'conv2d'],
      ['res', 'add'],
    ],
  );
  assert.deepEqual(sub.shape('relu1'), [4, 8, 8]);
  // From the graph input: the head of the network, the graph input kept as it is.
  const head = extractSubgraph(g, [], ['relu1']);
  assert.deepEqual(
    head.nodes.map((n) => n.name),
    ['input', 'conv1', 'bn1', 'relu1'],
  );
  const m = Model.create(g, { seed: 3 }).eval();
  randomiseNorms(m);
  const sm = m.derive(sub);
  assert.deepEqual(
    sm.namedTensors().map(([k]) => k),
    ['conv2.weight', 'conv2.bias'],
  );
  tidy(() => {
    const cap = new Capture(['relu1', 'res']);
    m.forward(randn([2, 3, 8, 8]), { hooks: cap });
    assert.deepEqual(values(sm.forward(cap.activation('relu1'))), values(cap.activation('res')));
    cap.dispose();
  });
  assert.throws(() => extractSubgraph(g, ['conv1', 'relu1'], ['res']), isGraphError(/input 'conv1' not needed by output 'res'/));
  m.dispose();
  sm.dispose();
});

test('freeze: no gradient, no update by the optimizer, still listed by parameters(); unfreeze; clone and derive keep it', () => {
  const m = Model.create(net(), { seed: 4 });
  const order = m.parameters();
  const frozen = m.freeze(['conv1', 'fc1.bias']);
  assert.deepEqual(frozen, ['conv1.weight', 'conv1.bias', 'fc1.bias']);
  assert.deepEqual(m.frozenKeys(), frozen);
  assert.deepEqual(m.parameters(), order, 'parameters() keeps every parameter, in order');
  assert.deepEqual(
    m.trainableParameters(),
    m.namedParameters().filter(([k]) => !frozen.includes(k)).map(([, t]) => t),
  );
  assert.ok(frozen.every((k) => !m.tensor(k).requiresGrad && m.isFrozen(k)));
  const before = new Map(m.namedParameters().map(([k, t]) => [k, values(t)]));
  const opt = new Adam(m.parameters(), { lr: 1e-2 });
  for (let i = 0; i < 2; i++) {
    tidy(() => {
      opt.zeroGrad();
      m.forward(randn([4, 3, 8, 8])).pow(2).mean().backward();
      for (const k of frozen) assert.equal(m.tensor(k).grad, null, `${k} got a gradient`);
      opt.step();
    });
  }
  for (const [k, t] of m.namedParameters()) {
    if (frozen.includes(k)) assert.deepEqual(values(t), before.get(k), `${k} moved`);
    else assert.notDeepEqual(values(t), before.get(k), `${k} did not move`);
  }
  const c = m.clone();
  assert.deepEqual(c.frozenKeys(), frozen);
  const d = m.derive(insertScale(m.graph, 'relu1'));
  assert.deepEqual(d.frozenKeys(), frozen);
  assert.ok(d.tensor('relu1_scale.weight').requiresGrad);
  assert.deepEqual(m.unfreeze((k) => k.startsWith('conv1.')), ['conv1.weight', 'conv1.bias']);
  assert.deepEqual(m.frozenKeys(), ['fc1.bias']);
  assert.ok(m.tensor('conv1.weight').requiresGrad);
  assert.throws(() => m.freeze(['bn1.running_mean']), isGraphError(/'bn1.running_mean' is a buffer, not a parameter/));
  assert.throws(() => m.freeze(['relu1']), isGraphError(/'relu1' is neither a parameter nor a node with parameters/));
  assert.deepEqual(m.freeze(), m.namedParameters().map(([k]) => k));
  assert.equal(m.trainableParameters().length, 0);
  opt.dispose();
  for (const x of [m, c, d]) x.dispose();
});
