// The graph layer: builder, validation, JSON round trip, execution (handle
// release, hooks, train / eval), and Model's tensor bookkeeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Tensor, noGrad, ones, randn, setNumThreads, tensor, tidy, zeros } from '../tensor/index.js';
import { Capture, Graph, GraphBuilder, GraphError, Model, type GraphJSON, type GraphNode } from './index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** A small conv net with a residual add, a concat and a BN, used by several tests. */
function smallNet(): Graph {
  const b = new GraphBuilder('small');
  const x = b.input([3, 8, 8]);
  const c1 = b.relu(b.batchnorm2d(b.conv2d(x, 4, 3, { padding: 1 })));
  const c2 = b.conv2d(c1, 4, 3, { padding: 1 });
  const r = b.add([c1, c2], { name: 'res' });
  const cat = b.concat([r, c1], { name: 'cat' });
  const p = b.maxpool2d(cat, 2);
  const f = b.flatten(p, { name: 'flat' });
  return b.build(b.linear(f, 5));
}

const input = (name: string, shape: number[]): GraphNode => ({ name, kind: 'input', inputs: [], attrs: { shape } });
const conv = (name: string, from: string, inC: number, outC: number, extra: Record<string, unknown> = {}): GraphNode => ({
  name,
  kind: 'conv2d',
  inputs: [from],
  attrs: { inChannels: inC, outChannels: outC, kernel: 3, padding: 1, ...extra } as GraphNode['attrs'],
});
const json = (nodes: GraphNode[], outputs: string[]): GraphJSON => ({ format: 'slimnet.graph', version: 1, name: 'hand', nodes, outputs });

/** Asserts that building throws a GraphError whose message names `node` and matches `re`. */
function rejects(nodes: GraphNode[], outputs: string[], node: string | null, re: RegExp): void {
  assert.throws(
    () => Graph.fromJSON(json(nodes, outputs)),
    (e: unknown) => {
      assert.ok(e instanceof GraphError, `not a GraphError: ${String(e)}`);
      if (node !== null) {
        assert.equal(e.node, node, e.message);
        assert.ok(e.message.includes(`'${node}'`), e.message);
      }
      assert.match(e.message, re);
      return true;
    },
  );
}

const values = (t: Tensor): number[] => t.toArray();

// ---- builder ---------------------------------------------------------------------------

test('builder: node names, kinds, inputs and shapes', () => {
  const g = smallNet();
  assert.deepEqual(
    g.nodes.map((n) => [n.name, n.kind]),
    [
      ['input', 'input'],
      ['conv1', 'conv2d'],
      ['bn1', 'batchnorm2d'],
      ['relu1', 'relu'],
      ['conv2', 'conv2d'],
      ['res', 'add'],
      ['cat', 'concat'],
      ['maxpool1', 'maxpool2d'],
      ['flat', 'flatten'],
      ['fc1', 'linear'],
    ],
  );
  assert.deepEqual(g.node('res').inputs, ['relu1', 'conv2']);
  assert.deepEqual(g.shape('conv1'), [4, 8, 8]);
  assert.deepEqual(g.shape('cat'), [8, 8, 8]);
  assert.deepEqual(g.shape('maxpool1'), [8, 4, 4]);
  assert.deepEqual(g.shape('flat'), [128]);
  assert.deepEqual(g.shape('fc1'), [5]);
  assert.deepEqual(g.node('conv2').attrs, { inChannels: 4, outChannels: 4, kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 1, bias: true });
  assert.deepEqual(g.node('fc1').attrs, { inFeatures: 128, outFeatures: 5, bias: true });
  assert.deepEqual([...g.consumers('relu1')].sort(), ['cat', 'conv2', 'res']);
  assert.deepEqual(g.outputs, ['fc1']);
  assert.deepEqual(g.inputs.map((n) => n.name), ['input']);
  // Parameters as PyTorch keys them.
  assert.deepEqual(
    Model.entries(g).map((e) => `${e.key}:${e.kind}:[${e.spec.shape.join(',')}]`),
    [
      'conv1.weight:param:[4,3,3,3]',
      'conv1.bias:param:[4]',
      'bn1.weight:param:[4]',
      'bn1.bias:param:[4]',
      'bn1.running_mean:buffer:[4]',
      'bn1.running_var:buffer:[4]',
      'conv2.weight:param:[4,4,3,3]',
      'conv2.bias:param:[4]',
      'fc1.weight:param:[5,128]',
      'fc1.bias:param:[5]',
    ],
  );
});

test('builder: scopes qualify names; mistakes fail at the call that made them', () => {
  const b = new GraphBuilder('scoped');
  const x = b.input([2, 6, 6]);
  const y = b.scope('layer1.0', () => {
    const c = b.conv2d(x, 3, 1, { name: 'conv1' });
    return b.scope('downsample', () => b.relu(b.conv2d(c, 3, 1)));
  });
  assert.equal(y.name, 'layer1.0.downsample.relu1');
  const g = b.build(y);
  assert.ok(g.has('layer1.0.conv1') && g.has('layer1.0.downsample.conv1'));
  // The scope is closed again, even when its body throws.
  assert.throws(() => b.scope('bad', () => b.conv2d(x, 3, 3, { stride: 0 })), /node 'bad\.conv1': attribute 'stride' must be/);
  assert.equal(b.relu(x).name, 'relu1');
  assert.throws(() => b.relu(x, { name: 'relu1' }), /node 'relu1': duplicate node name/);
  assert.throws(() => b.linear(x, 3, { name: 'fc' }), /node 'fc': input must have 1 dimensions per sample/);
  assert.throws(() => b.add([x, y], { name: 'sum' }), /node 'sum': add inputs must have equal shapes, got \[2, 6, 6\] and \[3, 6, 6\]/);
});

// ---- validation ------------------------------------------------------------------------

test('validator: structural errors name the offending node', () => {
  rejects([input('x', [3, 4, 4]), { name: 'r', kind: 'relu', inputs: ['nope'], attrs: {} }], ['r'], 'r', /input 'nope' does not exist \(dangling edge\)/);
  rejects([input('x', [3, 4, 4]), { name: 'r', kind: 'relu', inputs: ['x'], attrs: {} }, { name: 'r', kind: 'relu', inputs: ['x'], attrs: {} }], ['r'], 'r', /duplicate node name/);
  rejects([input('x', [3, 4, 4]), { name: 'c', kind: 'conv3d', inputs: ['x'], attrs: {} }], ['c'], 'c', /unknown kind 'conv3d' \(known: .*conv2d/);
  rejects([input('x', [3, 4, 4]), input('y', [3, 4, 4]), { name: 'r', kind: 'relu', inputs: ['x', 'y'], attrs: {} }], ['r'], 'r', /relu takes 1 inputs, got 2/);
  rejects([input('x', [3, 4, 4]), { name: 'a', kind: 'add', inputs: ['x'], attrs: {} }], ['a'], 'a', /add takes 2 to 16 inputs, got 1/);
  rejects([{ name: 'x', kind: 'input', inputs: ['x'], attrs: { shape: [1] } }], ['x'], 'x', /input takes 0 inputs, got 1/);
  // A cycle: x -> a -> b -> c -> a.
  const cyc = [
    input('x', [3, 4, 4]),
    { name: 'a', kind: 'add', inputs: ['x', 'c'], attrs: {} },
    { name: 'b', kind: 'relu', inputs: ['a'], attrs: {} },
    { name: 'c', kind: 'relu', inputs: ['b'], attrs: {} },
  ];
  rejects(cyc, ['c'], 'a', /cycle: a -> c -> b -> a/);
  rejects([{ name: 's', kind: 'relu', inputs: ['s'], attrs: {} }], ['s'], 's', /cycle: s -> s/);
  // Outputs and the JSON envelope.
  rejects([input('x', [3])], ['y'], null, /graph output 'y' is not a node/);
  rejects([input('x', [3])], [], null, /graph has no outputs/);
  assert.throws(() => Graph.fromJSON({ format: 'onnx', version: 1, nodes: [], outputs: [] }), /not a slimnet graph/);
  assert.throws(() => Graph.fromJSON({ format: 'slimnet.graph', version: 2, nodes: [], outputs: [] }), /unsupported graph version 2/);
});

test('validator: shape conflicts name the offending node', () => {
  rejects([input('x', [3, 8, 8]), conv('c1', 'x', 3, 4), conv('c2', 'c1', 5, 4)], ['c2'], 'c2', /expects 5 input channels, got input \[4, 8, 8\]/);
  rejects(
    [input('x', [3, 8, 8]), conv('c1', 'x', 3, 4), conv('c2', 'x', 3, 4, { stride: 2 }), { name: 'sum', kind: 'add', inputs: ['c1', 'c2'], attrs: {} }],
    ['sum'],
    'sum',
    /add inputs must have equal shapes, got \[4, 8, 8\] and \[4, 4, 4\] \(from c1, c2\)/,
  );
  rejects(
    [input('x', [3, 8, 8]), conv('c1', 'x', 3, 4), conv('c2', 'x', 3, 2, { stride: 2 }), { name: 'cat', kind: 'concat', inputs: ['c1', 'c2'], attrs: { axis: 1 } }],
    ['cat'],
    'cat',
    /concat inputs must agree except on axis 1, got \[4, 8, 8\], \[2, 4, 4\]/,
  );
  rejects([input('x', [3, 8, 8]), { name: 'cat', kind: 'concat', inputs: ['x'], attrs: { axis: 4 } }], ['cat'], 'cat', /concat axis 4 is out of range/);
  rejects(
    [input('x', [3, 4, 4]), { name: 'fc', kind: 'linear', inputs: ['x'], attrs: { inFeatures: 48, outFeatures: 2 } }],
    ['fc'],
    'fc',
    /input must have 1 dimensions per sample \(\[features\]\), got \[3, 4, 4\]/,
  );
  rejects(
    [input('x', [3, 4, 4]), { name: 'f', kind: 'flatten', inputs: ['x'], attrs: {} }, { name: 'fc', kind: 'linear', inputs: ['f'], attrs: { inFeatures: 47, outFeatures: 2 } }],
    ['fc'],
    'fc',
    /expects 47 input features, got \[48\]/,
  );
  rejects([input('x', [3, 2, 2]), conv('c', 'x', 3, 4, { kernel: 5, padding: 0 })], ['c'], 'c', /output would be empty/);
  rejects([input('x', [3, 4, 4]), { name: 'bn', kind: 'batchnorm2d', inputs: ['x'], attrs: { features: 4 } }], ['bn'], 'bn', /has 4 features but input has 3 channels/);
  rejects([input('x', [3, 4, 4]), { name: 'r', kind: 'reshape', inputs: ['x'], attrs: { shape: [5, -1] } }], ['r'], 'r', /cannot reshape \[3, 4, 4\] \(48 elements\) to \[5, -1\]/);
  rejects([input('x', [3, 4, 4]), input('y', [2, 4]), { name: 'm', kind: 'mul', inputs: ['x', 'y'], attrs: {} }], ['m'], 'm', /cannot broadcast \[3, 4, 4\] with \[2, 4\]/);
});

test('validator: bad attributes name the offending node', () => {
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { kernel: 'big' })], ['c'], 'c', /attribute 'kernel' must be an integer or \[h, w\], got "big"/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { kernel: [3, 3, 3] })], ['c'], 'c', /attribute 'kernel'/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { groups: 2 })], ['c'], 'c', /inChannels 3 and outChannels 4 must both be divisible by groups 2/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { padding: 'same', stride: 2 })], ['c'], 'c', /padding 'same' needs stride 1/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { bias: 'yes' })], ['c'], 'c', /attribute 'bias' must be a boolean/);
  rejects([input('x', [3, 8, 8]), { name: 'c', kind: 'conv2d', inputs: ['x'], attrs: { outChannels: 4, kernel: 3 } }], ['c'], 'c', /attribute 'inChannels' must be an integer, got undefined/);
  rejects([input('x', [3]), { name: 'd', kind: 'dropout', inputs: ['x'], attrs: { p: 1 } }], ['d'], 'd', /dropout p must be in \[0, 1\), got 1/);
  rejects([input('x', [3, 8, 8]), { name: 'p', kind: 'maxpool2d', inputs: ['x'], attrs: { kernel: 2, padding: 2 } }], ['p'], 'p', /padding \[2, 2\] must be at most half the kernel/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { stride: 0 })], ['c'], 'c', /attribute 'stride' must be >= 1, got 0/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { kernel: [3, 0] })], ['c'], 'c', /attribute 'kernel' must be >= 1, got \[3,0\]/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { dilation: 0 })], ['c'], 'c', /attribute 'dilation' must be >= 1/);
  rejects([input('x', [3, 8, 8]), conv('c', 'x', 3, 4, { padding: -1 })], ['c'], 'c', /attribute 'padding' must be >= 0/);
  rejects([input('x', [3, 8, 8]), { name: 'p', kind: 'avgpool2d', inputs: ['x'], attrs: { kernel: 2, stride: 0 } }], ['p'], 'p', /attribute 'stride' must be >= 1/);
  rejects([input('x', [3, 8, 8]), { name: 'p', kind: 'adaptive_avgpool', inputs: ['x'], attrs: { output: 0 } }], ['p'], 'p', /attribute 'output' must be >= 1/);
  rejects(
    [input('x', [3, 8, 8]), { name: 't', kind: 'conv_transpose2d', inputs: ['x'], attrs: { inChannels: 3, outChannels: 2, kernel: 3, stride: 2, outputPadding: 2 } }],
    ['t'],
    't',
    /outputPadding \[2, 2\] must be smaller than the stride or the dilation/,
  );
  rejects([input('x', [3, 0, 8])], ['x'], 'x', /input shape must be positive/);
  rejects([input('x', [3]), { name: 'r', kind: 'reshape', inputs: ['x'], attrs: { shape: [-1, -1] } }], ['r'], 'r', /reshape shape \[-1, -1\] is invalid/);
  rejects([input('x', [3]), { name: 'fc', kind: 'linear', inputs: ['x'], attrs: { inFeatures: 3, outFeatures: 0 } }], ['fc'], 'fc', /attribute 'outFeatures' must be >= 1, got 0/);
  rejects([input('x', [3]), { name: 's', kind: 'softmax', inputs: ['x'], attrs: { axis: 0 } }], ['s'], 's', /softmax axis 0 is out of range/);
});

test('Graph.fromJSON(toJSON()) round trip keeps nodes, shapes and outputs', () => {
  const g = smallNet();
  const text = JSON.stringify(g.toJSON());
  const back = Graph.fromJSON(JSON.parse(text));
  assert.deepEqual(back.toJSON(), g.toJSON());
  assert.equal(JSON.stringify(back.toJSON()), text);
  for (const n of g.nodes) assert.deepEqual(back.shape(n.name), g.shape(n.name));
  // Node order in the JSON does not matter: a reversed list is sorted topologically again.
  const reversed = Graph.fromJSON({ ...g.toJSON(), nodes: [...g.toJSON().nodes].reverse() });
  assert.deepEqual(reversed.nodes.map((n) => n.name), g.nodes.map((n) => n.name));
  // toJSON is a copy: editing it does not touch the graph.
  const j = g.toJSON();
  (j.nodes[1]!.attrs as Record<string, unknown>).outChannels = 99;
  (j.nodes[1]!.inputs as string[]).push('zzz');
  assert.equal(g.node('conv1').attrs.outChannels, 4);
  assert.deepEqual(g.node('conv1').inputs, ['input']);
  // A model created on one and loaded into the other computes the same.
  const a = Model.create(g, { seed: 3 }).eval();
  const b = Model.fromTensors(back, a.stateDict()).eval();
  tidy(() => {
    const x = randn([2, 3, 8, 8]);
    assert.deepEqual(values(a.forward(x)), values(b.forward(x)));
  });
  a.dispose();
  b.dispose();
});

// ---- execution -------------------------------------------------------------------------

test('executor: intermediates are released as soon as they are last read; inputs and outputs survive', () => {
  const g = smallNet();
  const m = Model.create(g, { seed: 1 });
  const seen = new Map<string, Tensor>();
  const x = randn([2, 3, 8, 8]);
  const y = m.forward(x, { hooks: { onOutput: (node, out) => void seen.set(node.name, out) } });
  assert.equal(seen.size, g.nodes.length);
  assert.strictEqual(seen.get('input'), x);
  assert.strictEqual(seen.get('fc1'), y);
  for (const [name, t] of seen) {
    const alive = !t.isDisposed;
    assert.equal(alive, name === 'input' || name === 'fc1', `${name} ${alive ? 'still alive' : 'released'}`);
  }
  assert.deepEqual(y.shape, [2, 5]);
  // The released values were still there for backward: gradients reach the first conv.
  y.sum().backward();
  const gw = m.tensor('conv1.weight').grad!;
  assert.ok(gw.abs().sum().item() > 0);
  gw.dispose();

  // Several outputs, one of them also read by a later node, and an input returned as an output.
  const b = new GraphBuilder('multi');
  const i = b.input([4]);
  const h = b.relu(b.linear(i, 3, { name: 'h' }), { name: 'a' });
  const o = b.linear(h, 2, { name: 'o' });
  const g2 = b.build(o, h, i);
  const m2 = Model.create(g2, { seed: 2 });
  const held = new Map<string, Tensor>();
  const xin = randn([5, 4]);
  const outs = m2.forwardAll(xin, { hooks: { onOutput: (n, t) => void held.set(n.name, t) } });
  assert.deepEqual(outs.map((t) => t.shape), [[5, 2], [5, 3], [5, 4]]);
  assert.ok(held.get('h')!.isDisposed, 'h is released after relu read it');
  assert.ok(!held.get('a')!.isDisposed, 'a is a graph output and read by o');
  assert.notStrictEqual(outs[2], xin); // a new handle on the caller's tensor
  assert.deepEqual(values(outs[2]!), values(xin));
  outs.forEach((t) => t.dispose());
  assert.ok(!xin.isDisposed, "disposing the returned input handle leaves the caller's tensor alone");
  // A wrongly shaped feed names the input.
  assert.throws(() => m2.forward(randn([5, 3])), /node 'input': expects a batch of \[4\], got tensor \[5, 3\]/);
  assert.throws(() => m2.forward([xin, xin]), /has 1 inputs, 2 tensors were fed/);
  for (const t of [x, y, xin]) t.dispose();
  m.dispose();
  m2.dispose();
});

test('executor: a failing node releases what was computed and rethrows', () => {
  const g = smallNet();
  const m = Model.create(g, { seed: 1 });
  const seen: Tensor[] = [];
  // Dispose a weight to make fc1 fail during forward.
  const broken = Model.fromTensors(g, m.stateDict());
  broken.tensor('fc1.weight').dispose();
  assert.throws(() => broken.forward(randn([1, 3, 8, 8]), { hooks: { onOutput: (_n, t) => void seen.push(t) } }));
  assert.ok(seen.length >= 8);
  assert.ok(seen.slice(1).every((t) => t.isDisposed), 'every intermediate released after the failure');
  m.dispose();
  broken.dispose();
});

test('Capture records chosen activations and, after backward, exactly their gradients', () => {
  const b = new GraphBuilder('cap');
  const x = b.input([2, 5, 5]);
  const z = b.conv2d(x, 3, 3, { padding: 1, name: 'conv' });
  const r = b.relu(z, { name: 'relu' });
  const g = b.build(r);
  const m = Model.create(g, { seed: 11 });
  tidy(() => {
    const cap = new Capture(['conv', 'relu'], { grads: true });
    const xin = randn([2, 2, 5, 5]);
    const out = m.forward(xin, { hooks: cap });
    assert.deepEqual(cap.names, ['conv', 'relu']);
    const zAct = cap.activation('conv');
    assert.deepEqual(zAct.shape, [2, 3, 5, 5]);
    // The capture holds the conv output itself: recompute it directly.
    const direct = F.conv2d(xin, m.tensor('conv.weight'), { bias: m.tensor('conv.bias'), padding: 1 });
    assert.deepEqual(values(zAct), values(direct));
    assert.deepEqual(values(cap.activation('relu')), values(out));
    // loss = sum(relu(z) * w): dL/d relu = w, dL/dz = w * [z > 0], exactly.
    const w = randn([2, 3, 5, 5]);
    out.mul(w).sum().backward();
    const gRelu = cap.gradient('relu')!;
    const gConv = cap.gradient('conv')!;
    assert.deepEqual(values(gRelu), values(w));
    const zv = values(zAct);
    const wv = values(w);
    assert.deepEqual(values(gConv), zv.map((v, i) => (v > 0 ? wv[i]! : 0)));
    assert.ok(zv.some((v) => v > 0) && zv.some((v) => v < 0));
    // Dispose releases the captured tensors.
    const held = [zAct, cap.activation('relu')];
    cap.dispose();
    assert.ok(held.every((t) => t.isDisposed));
    assert.ok(cap.isDisposed);
    assert.throws(() => cap.activation('conv'), /no activation recorded for node 'conv'/);
    assert.ok(!out.isDisposed, 'the model output is not the capture’s to release');
  });
  tidy(() => {
    // Capturing the graph output itself: loss = sum(z * w) with z = conv(x), dL/dz = w exactly.
    const g1 = new GraphBuilder('one');
    const g1x = g1.input([2, 5, 5]);
    const graph = g1.build(g1.conv2d(g1x, 3, 3, { padding: 1, name: 'conv' }));
    const m1 = Model.fromTensors(graph, { 'conv.weight': m.tensor('conv.weight').detach().clone(), 'conv.bias': m.tensor('conv.bias').detach().clone() });
    const cap = new Capture((n) => n.kind === 'conv2d', { grads: true });
    const zz = m1.forward(randn([2, 2, 5, 5]), { hooks: cap });
    const w = randn([2, 3, 5, 5]);
    zz.mul(w).sum().backward();
    assert.deepEqual(values(cap.gradient('conv')!), values(w));
    cap.dispose();
    m1.dispose();
  });
  // Without { grads: true } gradients are refused; in noGrad nothing requires grad.
  tidy(() => {
    const cap = new Capture(['conv']);
    noGrad(() => m.forward(randn([1, 2, 5, 5]), { hooks: cap }));
    assert.equal(cap.activation('conv').requiresGrad, false);
    assert.throws(() => cap.gradient('conv'), /created without \{ grads: true \}/);
    cap.dispose();
  });
  m.dispose();
});

test('train vs eval: batchnorm running statistics and dropout', () => {
  const b = new GraphBuilder('modes');
  const x = b.input([2, 3, 3]);
  const g = b.build(b.batchnorm2d(x, { name: 'bn', momentum: 0.1 }));
  const m = Model.create(g);
  assert.equal(m.training, true, 'models start in train mode, as in PyTorch');
  tidy(() => {
    // Channel 0 all 2s, channel 1 values 0..17 (two samples).
    const data = new Float32Array(36);
    for (let n = 0; n < 2; n++) for (let i = 0; i < 9; i++) {
      data[n * 18 + i] = 2;
      data[n * 18 + 9 + i] = n * 9 + i;
    }
    const xin = tensor(data, [2, 2, 3, 3]);
    // Eval: running stats (0, 1) are used and left alone: y = x / sqrt(1 + eps).
    const ye = m.eval().forward(xin);
    const scale = 1 / Math.sqrt(1 + 1e-5);
    values(ye).forEach((v, i) => assert.ok(Math.abs(v - data[i]! * scale) < 1e-5));
    assert.deepEqual(values(m.tensor('bn.running_mean')), [0, 0]);
    assert.deepEqual(values(m.tensor('bn.running_var')), [1, 1]);
    // forward({ training: true }) overrides the mode for one call.
    m.forward(xin, { training: true });
    const mean1 = 8.5; // mean of 0..17
    const var1 = (18 * 19) / 12; // unbiased variance of 0..17: n(n+1)/12 with n = 18 -> 28.5
    const rm = values(m.tensor('bn.running_mean'));
    const rv = values(m.tensor('bn.running_var'));
    assert.ok(Math.abs(rm[0]! - 0.2) < 1e-6 && Math.abs(rm[1]! - 0.1 * mean1) < 1e-5, `running_mean ${rm}`);
    assert.ok(Math.abs(rv[0]! - 0.9) < 1e-6 && Math.abs(rv[1]! - (0.9 + 0.1 * var1)) < 1e-4, `running_var ${rv}`);
    assert.equal(m.training, false);
    // Train mode normalises with batch statistics: per-channel mean 0.
    const yt = m.train().forward(xin);
    const chMean = values(yt.mean([0, 2, 3]));
    assert.ok(chMean.every((v) => Math.abs(v) < 1e-5));
    assert.ok(Math.abs(values(m.tensor('bn.running_mean'))[1]! - (0.9 * 0.1 * mean1 + 0.1 * mean1)) < 1e-5);
  });
  m.dispose();

  const bd = new GraphBuilder('drop');
  const gd = bd.build(bd.dropout(bd.input([1000]), 0.5, { name: 'drop' }));
  const md = Model.create(gd);
  tidy(() => {
    const xin = ones([2, 1000]).add(randn([2, 1000]).abs());
    const xv = values(xin);
    assert.deepEqual(values(md.forward(xin, { training: false })), xv, 'eval: identity');
    const yv = values(md.forward(xin, { training: true }));
    let zeros = 0;
    yv.forEach((v, i) => {
      if (v === 0) zeros++;
      else assert.ok(Math.abs(v - 2 * xv[i]!) < 1e-5, 'kept elements are scaled by 1 / (1 - p)');
    });
    assert.ok(zeros > 800 && zeros < 1200, `${zeros} of 2000 dropped with p = 0.5`);
  });
  md.dispose();
});

test('mul broadcasts per-sample shapes of different rank with the batch dimension first', () => {
  const b = new GraphBuilder('gate');
  const a = b.input([2, 3], { name: 'a' });
  const s = b.input([3], { name: 's' });
  const m = Model.create(b.build(b.mul(a, s, { name: 'm' })));
  tidy(() => {
    const av = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const sv = [1, 10, 100, -1, -2, -3];
    const y = m.forward({ a: tensor(av, [2, 2, 3]), s: tensor(sv, [2, 3]) });
    assert.deepEqual(y.shape, [2, 2, 3]);
    assert.deepEqual(values(y), av.map((v, i) => v * sv[Math.floor(i / 6) * 3 + (i % 3)]!));
  });
  m.dispose();
});

// ---- Model bookkeeping ----------------------------------------------------------------

test('Model.fromTensors reports missing, unexpected and mis-shaped tensors in one error', () => {
  const g = smallNet();
  const sd = Model.create(g, { seed: 1 }).stateDict();
  delete (sd as Record<string, Tensor>)['bn1.running_var'];
  sd['conv2.weight']!.dispose();
  sd['conv2.weight'] = zeros([4, 4, 5, 5]);
  sd['fc1.bias']!.dispose();
  sd['fc1.bias'] = zeros([5], { dtype: 'float64' });
  sd['extra.weight'] = zeros([1]);
  sd['conv3.bias'] = zeros([4]);
  assert.throws(
    () => Model.fromTensors(g, sd, 'checkpoint small.safetensors'),
    (e: unknown) => {
      assert.ok(e instanceof GraphError);
      const msg = e.message;
      assert.match(msg, /^checkpoint small\.safetensors do not match graph 'small':/);
      assert.match(msg, /missing 'bn1\.running_var' \[4\]/);
      assert.match(msg, /'conv2\.weight' has shape \[4, 4, 5, 5\], the graph needs \[4, 4, 3, 3\]/);
      assert.match(msg, /'fc1\.bias' is float64, the graph needs float32/);
      assert.match(msg, /unexpected 'extra\.weight'/);
      assert.match(msg, /unexpected 'conv3\.bias'/);
      assert.equal(msg.split('\n').length, 6, msg);
      return true;
    },
  );
  for (const t of Object.values(sd)) t.dispose();
});

test('fromTensors takes ownership; params require grad, buffers do not', () => {
  const g = smallNet();
  const src = Model.create(g, { seed: 5 });
  const sd = src.stateDict();
  assert.ok(Object.values(sd).every((t) => !t.requiresGrad));
  const m = Model.fromTensors(g, sd);
  assert.strictEqual(m.tensor('conv1.weight'), sd['conv1.weight']);
  assert.equal(m.tensor('conv1.weight').requiresGrad, true);
  assert.equal(m.tensor('bn1.running_mean').requiresGrad, false);
  assert.deepEqual(m.namedParameters().map(([k]) => k), ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias']);
  assert.throws(() => m.tensor('conv9.weight'), /has no tensor 'conv9\.weight'/);
  src.dispose();
  m.dispose();
  assert.ok(m.isDisposed && sd['conv1.weight']!.isDisposed);
});

test('clone() is independent of the original', () => {
  const g = smallNet();
  const a = Model.create(g, { seed: 4 }).eval();
  const c = a.clone().eval();
  assert.notStrictEqual(c.tensor('conv1.weight'), a.tensor('conv1.weight'));
  tidy(() => {
    const x = randn([2, 3, 8, 8]);
    const before = values(a.forward(x));
    assert.deepEqual(values(c.forward(x)), before);
    noGrad(() => c.tensor('conv1.weight').fill_(0.5));
    c.forward(x, { training: true }); // updates c's BN statistics only
    assert.deepEqual(values(a.forward(x)), before);
    assert.notDeepEqual(values(c.forward(x)), before);
    assert.deepEqual(values(a.tensor('bn1.running_mean')), [0, 0, 0, 0]);
    // Gradients are separate too.
    c.train().forward(x).sum().backward();
    assert.equal(a.tensor('conv1.weight').grad, null);
  });
  c.dispose();
  assert.ok(!a.tensor('conv1.weight').isDisposed);
  a.dispose();
});

test('stateDict / loadStateDict round trip', () => {
  const g = smallNet();
  const a = Model.create(g, { seed: 8 });
  const b = Model.create(g, { seed: 9 });
  tidy(() => {
    const x = randn([3, 3, 8, 8]);
    a.forward(x, { training: true }); // non-trivial running statistics
    a.eval();
    b.eval();
    assert.notDeepEqual(values(a.forward(x)), values(b.forward(x)));
    const sd = a.stateDict();
    assert.deepEqual(Object.keys(sd), Model.entries(g).map((e) => e.key));
    for (const [k, t] of Object.entries(sd)) assert.notStrictEqual(t, a.tensor(k), 'state dict entries are copies');
    const bBefore = b.tensor('conv1.weight');
    b.loadStateDict(sd);
    assert.strictEqual(b.tensor('conv1.weight'), bBefore, 'loaded in place');
    assert.deepEqual(values(b.forward(x)), values(a.forward(x)));
    assert.deepEqual(values(b.tensor('bn1.running_var')), values(a.tensor('bn1.running_var')));
    // Editing the state dict afterwards changes neither model.
    noGrad(() => sd['fc1.bias']!.fill_(7));
    assert.ok(values(b.tensor('fc1.bias')).every((v) => v !== 7));
    // Errors: a missing key, a wrong shape.
    const partial = { ...sd };
    delete partial['conv2.bias'];
    assert.throws(() => b.loadStateDict(partial), /state dict lacks conv2\.bias/);
    assert.throws(() => b.loadStateDict({ ...sd, 'fc1.weight': zeros([5, 127]) }), /state dict 'fc1\.weight' has shape \[5, 127\], model needs \[5, 128\]/);
  });
  a.dispose();
  b.dispose();
});
