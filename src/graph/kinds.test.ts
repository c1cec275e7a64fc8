// Every registered node kind: the shape its forward() produces on a random
// batch must be the shape its inferShape() promised, in train and in eval
// mode, for a set of attribute combinations per kind (strides, paddings,
// dilations, groups, ceil mode, broadcasting, axes...). A kind without a case
// here fails the first test, so a new kind cannot be added without one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, tidy, type Tensor } from '../tensor/index.js';
import { Graph, Model, allKinds, hasTrait, kindOf, summarize, type AttrValue, type GraphNode } from './index.js';

interface Case {
  /** Per-sample shapes of the inputs fed to the node under test. */
  inputs: number[][];
  attrs?: Record<string, AttrValue>;
  /** Label in failure messages. */
  label?: string;
}

const CASES: Record<string, Case[]> = {
  input: [{ inputs: [[3, 5, 7]] }, { inputs: [[11]] }],
  flatten: [{ inputs: [[3, 4, 5]] }, { inputs: [[6]] }],
  reshape: [
    { inputs: [[4, 6, 2]], attrs: { shape: [8, -1] } },
    { inputs: [[12]], attrs: { shape: [3, 2, 2] } },
  ],
  identity: [{ inputs: [[2, 3, 3]] }],
  lrn: [{ inputs: [[6, 3, 3]], attrs: { size: 3, alpha: 1e-3, beta: 0.75, bias: 1 } }, { inputs: [[5, 2, 2]], attrs: { size: 4, alpha: 0.5, beta: 0.5, bias: 2 }, label: 'even size' }, { inputs: [[7, 1, 2]], attrs: { size: 5 } }],
  channel_shuffle: [{ inputs: [[6, 3, 2]], attrs: { groups: 2 } }, { inputs: [[6, 2, 2]], attrs: { groups: 3 } }],
  channel_slice: [{ inputs: [[6, 3, 2]], attrs: { start: 0, end: 3 } }, { inputs: [[5, 2, 2]], attrs: { start: 2, end: 5 } }],
  dropout: [{ inputs: [[4, 3, 3]], attrs: { p: 0.3 } }, { inputs: [[7]], attrs: { p: 0 } }],
  conv2d: [
    { inputs: [[3, 9, 9]], attrs: { inChannels: 3, outChannels: 4, kernel: 3, padding: 1 } },
    { inputs: [[3, 9, 8]], attrs: { inChannels: 3, outChannels: 5, kernel: 3, stride: 2, bias: false } },
    { inputs: [[2, 11, 10]], attrs: { inChannels: 2, outChannels: 3, kernel: [3, 5], stride: [2, 1], padding: [1, 2], dilation: [2, 1] } },
    { inputs: [[4, 7, 7]], attrs: { inChannels: 4, outChannels: 6, kernel: 3, groups: 2, padding: 1 }, label: 'grouped' },
    { inputs: [[6, 8, 8]], attrs: { inChannels: 6, outChannels: 6, kernel: 3, stride: 2, padding: 1, groups: 6 }, label: 'depthwise' },
    { inputs: [[2, 7, 6]], attrs: { inChannels: 2, outChannels: 3, kernel: 4, padding: 'same' }, label: "'same', even kernel" },
    { inputs: [[2, 7, 6]], attrs: { inChannels: 2, outChannels: 3, kernel: 3, dilation: 2, padding: 'same' } },
    { inputs: [[1, 5, 5]], attrs: { inChannels: 1, outChannels: 2, kernel: 5 }, label: '1x1 output' },
  ],
  conv_transpose2d: [
    { inputs: [[3, 5, 5]], attrs: { inChannels: 3, outChannels: 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1 } },
    { inputs: [[4, 4, 6]], attrs: { inChannels: 4, outChannels: 6, kernel: [4, 3], stride: [2, 1], padding: [1, 0], groups: 2, bias: false } },
    { inputs: [[2, 3, 3]], attrs: { inChannels: 2, outChannels: 2, kernel: 3, dilation: 2 } },
  ],
  batchnorm2d: [{ inputs: [[5, 4, 3]], attrs: { features: 5 } }],
  batchnorm1d: [
    { inputs: [[6]], attrs: { features: 6 } },
    { inputs: [[4, 9]], attrs: { features: 4, eps: 1e-3, momentum: 0.2 } },
  ],
  channel_scale: [
    { inputs: [[4, 3, 3]], attrs: { features: 4 } },
    { inputs: [[3, 5]], attrs: { features: 3 }, label: '[C, L]' },
    { inputs: [[6]], attrs: { features: 6 } },
  ],
  linear: [
    { inputs: [[7]], attrs: { inFeatures: 7, outFeatures: 3 } },
    { inputs: [[5]], attrs: { inFeatures: 5, outFeatures: 1, bias: false } },
  ],
  relu: [{ inputs: [[3, 4, 4]] }],
  relu6: [{ inputs: [[3, 4, 4]] }],
  leaky_relu: [{ inputs: [[3, 4, 4]], attrs: { slope: 0.2 } }],
  elu: [{ inputs: [[5]], attrs: { alpha: 0.5 } }],
  sigmoid: [{ inputs: [[3, 2, 2]] }],
  tanh: [{ inputs: [[3, 2, 2]] }],
  hardswish: [{ inputs: [[3, 2, 2]] }],
  softmax: [
    { inputs: [[10]], attrs: { axis: 1 } },
    { inputs: [[3, 4, 5]], attrs: { axis: -1 } },
    { inputs: [[3, 4, 5]], attrs: { axis: 2 } },
    { inputs: [[10]], attrs: { axis: 1, log: true }, label: 'log-softmax' },
  ],
  maxpool2d: [
    { inputs: [[3, 8, 8]], attrs: { kernel: 2 } },
    { inputs: [[3, 9, 7]], attrs: { kernel: 3, stride: 2, padding: 1 } },
    { inputs: [[2, 6, 7]], attrs: { kernel: 3, stride: 2, ceilMode: true }, label: 'ceil mode' },
    { inputs: [[2, 6, 6]], attrs: { kernel: 3, stride: 2, padding: 1, ceilMode: true }, label: 'ceil mode, last window dropped' },
    { inputs: [[2, 5, 9]], attrs: { kernel: [2, 3], stride: [1, 2] } },
    { inputs: [[2, 9, 10]], attrs: { kernel: 3, stride: 2, padding: 1, dilation: [2, 1] }, label: 'dilated' },
    { inputs: [[2, 9, 8]], attrs: { kernel: 2, stride: 2, dilation: 2, ceilMode: true }, label: 'dilated, ceil mode' },
  ],
  avgpool2d: [
    { inputs: [[3, 8, 8]], attrs: { kernel: 2 } },
    { inputs: [[3, 7, 7]], attrs: { kernel: 3, stride: 2, padding: 1, countIncludePad: false } },
    { inputs: [[2, 5, 8]], attrs: { kernel: 2, stride: 2, ceilMode: true } },
  ],
  global_avgpool: [{ inputs: [[4, 5, 3]] }],
  adaptive_avgpool: [
    { inputs: [[3, 7, 5]], attrs: { output: [2, 3] } },
    { inputs: [[3, 3, 3]], attrs: { output: 7 }, label: 'upsampling' },
    { inputs: [[3, 6, 6]], attrs: { output: 1 } },
  ],
  blend: [{ inputs: [[3, 4, 4], [3, 4, 4]] }, { inputs: [[5], [5]] }],
  add: [
    { inputs: [[3, 4, 4], [3, 4, 4]] },
    { inputs: [[6], [6], [6]] },
  ],
  mul: [
    { inputs: [[3, 4, 5], [3, 4, 5]] },
    { inputs: [[3, 4, 5], [3, 1, 1]], label: 'channel gate' },
    { inputs: [[3, 1, 5], [3, 4, 1]], label: 'both broadcast' },
    { inputs: [[4, 5, 6], [6]], label: 'lower rank, right-aligned' },
    { inputs: [[5], [3, 2, 5]], label: 'lower rank first' },
  ],
  pad2d: [
    { inputs: [[3, 4, 5]], attrs: { pads: [1, 1, 1, 1] } },
    { inputs: [[2, 3, 3]], attrs: { pads: [0, 2, 1, 0], value: -1.5 }, label: 'asymmetric, non-zero value' },
  ],
  sub: [
    { inputs: [[3, 4, 5], [3, 4, 5]] },
    { inputs: [[3, 4, 5], [3, 1, 1]], label: 'per channel' },
    { inputs: [[5], [3, 2, 5]], label: 'lower rank first' },
  ],
  div: [
    { inputs: [[3, 4, 5], [3, 4, 5]] },
    { inputs: [[3, 1, 5], [3, 4, 1]], label: 'both broadcast' },
    { inputs: [[4, 5, 6], [6]], label: 'lower rank, right-aligned' },
  ],
  concat: [
    { inputs: [[2, 4, 4], [3, 4, 4], [1, 4, 4]] },
    { inputs: [[2, 4, 3], [2, 4, 5]], attrs: { axis: -1 } },
    { inputs: [[2, 4, 3], [2, 1, 3]], attrs: { axis: 2 } },
    { inputs: [[4], [6]] },
    { inputs: [[4, 2, 2]], label: 'single input' },
  ],
};

function graphFor(kind: string, c: Case): Graph {
  if (kind === 'input') return new Graph({ name: kind, nodes: [{ name: 'x0', kind: 'input', inputs: [], attrs: { shape: c.inputs[0]! } }], outputs: ['x0'] });
  const nodes: GraphNode[] = c.inputs.map((s, i) => ({ name: `x${i}`, kind: 'input', inputs: [], attrs: { shape: s } }));
  nodes.push({ name: 'node', kind, inputs: c.inputs.map((_, i) => `x${i}`), attrs: c.attrs ?? {} });
  return new Graph({ name: kind, nodes, outputs: ['node'] });
}

test('every registered kind has shape test cases', () => {
  const missing = allKinds().filter((k) => !CASES[k]?.length);
  assert.deepEqual(missing, [], `kinds without a case in kinds.test.ts: ${missing.join(', ')}`);
  const unknown = Object.keys(CASES).filter((k) => !allKinds().includes(k));
  assert.deepEqual(unknown, [], `cases for kinds that are not registered: ${unknown.join(', ')}`);
});

test('forward output shapes match inferShape for every kind', () => {
  const batch = 3;
  let checked = 0;
  for (const kind of allKinds()) {
    for (const c of CASES[kind] ?? []) {
      const what = `${kind} ${c.label ?? JSON.stringify({ inputs: c.inputs, attrs: c.attrs ?? {} })}`;
      const g = graphFor(kind, c);
      const inferred = g.shape(g.outputs[0]!);
      // Parameters are allocated with the shapes tensors() declares, so forward also checks those.
      const model = Model.create(g, { seed: 1 });
      try {
        for (const training of [false, true]) {
          tidy(() => {
            const feeds = c.inputs.map((s) => randn([batch, ...s]));
            const y = model.forward(feeds, { training });
            assert.deepEqual(y.shape, [batch, ...inferred], `${what} (${training ? 'train' : 'eval'}): forward gave [${y.shape.join(', ')}], inferShape [${inferred.join(', ')}]`);
          });
          checked++;
        }
        // Counting must not throw and gives a non-negative whole number of MACs.
        const macs = summarize(g).totals.macs;
        assert.ok(Number.isInteger(macs) && macs >= 0, `${what}: MACs ${macs}`);
      } finally {
        model.dispose();
      }
    }
  }
  assert.ok(checked >= 2 * allKinds().length);
});

test('the declared cost of conv2d, conv_transpose2d and linear is the multiply count of a direct implementation', () => {
  // conv2d: every output element sums Cin/groups * kH * kW products.
  const conv = graphFor('conv2d', CASES.conv2d![3]!); // grouped 4->6, groups 2, 3x3, 7x7 -> 7x7
  assert.equal(summarize(conv).totals.macs, 6 * 7 * 7 * 2 * 9);
  // conv_transpose2d: every input element is scattered to Cout/groups * kH * kW outputs.
  const ct = graphFor('conv_transpose2d', CASES.conv_transpose2d![1]!); // 4x4x6 input, 4->6 groups 2, 4x3
  assert.equal(summarize(ct).totals.macs, 4 * 4 * 6 * 3 * 12);
  assert.equal(summarize(graphFor('linear', CASES.linear![0]!)).totals.macs, 21);
});

test('kind traits hold on every case: channelwise kinds keep channels apart, elementwise kinds keep the shape, weights match the family', () => {
  const batch = 2;
  for (const kind of allKinds()) {
    const def = kindOf({ name: 'n', kind, inputs: [], attrs: {} });
    assert.ok(def.traits.length > 0, `${kind} has no traits`);
    const [lo, hi] = typeof def.arity === 'number' ? [def.arity, def.arity] : def.arity;
    if (hasTrait(kind, 'input')) assert.equal(hi, 0, kind);
    if (hasTrait(kind, 'merge')) assert.ok(hi > 1, `${kind}: a merge takes several inputs`);
    if (hasTrait(kind, 'channelwise') || hasTrait(kind, 'activation') || hasTrait(kind, 'pooling')) assert.ok(lo === 1 && hi === 1, `${kind}: one input`);
    for (const c of CASES[kind] ?? []) {
      const what = `${kind} ${c.label ?? JSON.stringify({ inputs: c.inputs, attrs: c.attrs ?? {} })}`;
      const g = graphFor(kind, c);
      const node = g.node(g.outputs[0]!);
      const out = g.shape(node.name);
      const specs = g.tensorSpecs(node);
      const weight = specs.params.weight?.shape;
      if (hasTrait(kind, 'elementwise')) assert.deepEqual(out, c.inputs.length === 1 ? c.inputs[0] : broadcastAll(c.inputs), `${what}: elementwise keeps the (broadcast) shape`);
      if (hasTrait(kind, 'activation')) assert.deepEqual(Object.keys(specs.params).length + Object.keys(specs.buffers).length, 0, `${what}: an activation has no tensors`);
      if (hasTrait(kind, 'norm') || hasTrait(kind, 'scale')) assert.deepEqual(weight, [out[0]], `${what}: one weight per channel`);
      if (hasTrait(kind, 'conv')) assert.equal(weight?.length, 4, `${what}: a conv weight is 4-D`);
      if (hasTrait(kind, 'linear')) assert.equal(weight?.length, 2, `${what}: a linear weight is 2-D`);
      if (hasTrait(kind, 'reshape')) assert.equal(out.reduce((a, b) => a * b, 1), c.inputs[0]!.reduce((a, b) => a * b, 1), `${what}: a reshape keeps the element count`);
      if (!hasTrait(kind, 'channelwise')) continue;
      // Channel c of the output depends on channel c of the input only: change
      // input channel 0 and every other output channel stays bit-identical.
      assert.equal(out[0], c.inputs[0]![0], `${what}: channelwise keeps the channel count`);
      const model = Model.create(g, { seed: 2 }).eval();
      tidy(() => {
        const x = randn([batch, ...c.inputs[0]!]);
        const bumped = x.clone();
        bumped.select(1, 0).add_(1);
        const [y0, y1] = [model.forward(x), model.forward(bumped)];
        const rest = (y: Tensor) => y.narrow(1, 1, out[0]! - 1).toArray();
        assert.deepEqual(rest(y1), rest(y0), `${what}: other channels moved`);
      });
      model.dispose();
    }
  }
});

function broadcastAll(shapes: number[][]): number[] {
  const n = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: n }, (_, i) => Math.max(...shapes.map((s) => s[s.length - n + i] ?? 1)));
}
