// Checkpoints: one safetensors file with the graph and metadata inside.
// Round trips are bit-exact (raw bytes of every tensor, and the eval-mode
// forward output), graphs come back equal, and damaged or inconsistent files
// fail with errors naming the file and what is wrong.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerializationError, loadTensors, saveTensors, randn, tidy, noGrad, type Tensor } from '../tensor/index.js';
import { GraphBuilder, GraphError, Model, saveCheckpoint, loadCheckpoint, CHECKPOINT_KEYS, type Graph } from './index.js';
import { buildArch } from '../models/index.js';

const dir = mkdtempSync(join(tmpdir(), 'slimnet-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function bytesOf(t: Tensor): Buffer {
  const d = t.data();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

/** A small residual CNN with every tensor-bearing kind a CIFAR net uses (conv, BN with buffers, linear). */
function smallNet(c = 8): Graph {
  const b = new GraphBuilder('smallnet');
  const x = b.input([3, 12, 12]);
  const h = b.relu(b.batchnorm2d(b.conv2d(x, c, 3, { padding: 1, bias: false, name: 'conv1' }), { name: 'bn1' }), { name: 'relu1' });
  const r = b.batchnorm2d(b.conv2d(h, c, 3, { padding: 1, bias: false, name: 'conv2' }), { name: 'bn2' });
  const y = b.relu(b.add([h, r], { name: 'add' }), { name: 'relu2' });
  const p = b.flatten(b.globalAvgPool(y, { name: 'gap' }), { name: 'flatten' });
  return b.build(b.linear(p, 5, { name: 'fc' }));
}

/** Runs a few train-mode forwards so BatchNorm running statistics are not at their initial values. */
function warmBuffers(m: Model, shape: number[]): void {
  noGrad(() =>
    tidy(() => {
      for (let i = 0; i < 3; i++) m.forward(randn(shape).mul(2).add(0.5), { training: true });
    }),
  );
}

function assertBitExact(a: Model, b: Model): void {
  const ta = new Map(a.namedTensors());
  const tb = new Map(b.namedTensors());
  assert.deepEqual([...tb.keys()].sort(), [...ta.keys()].sort());
  for (const [k, t] of ta) {
    const u = tb.get(k)!;
    assert.deepEqual(u.shape, t.shape, k);
    assert.equal(u.dtype, t.dtype, k);
    assert.ok(bytesOf(u).equals(bytesOf(t)), `tensor '${k}' differs after the round trip`);
  }
}

function assertSameOutput(a: Model, b: Model, x: Tensor): void {
  tidy(() => {
    a.eval();
    b.eval();
    const ya = noGrad(() => a.forward(x));
    const yb = noGrad(() => b.forward(x));
    assert.ok(bytesOf(ya).equals(bytesOf(yb)), 'eval-mode forward outputs differ');
  });
}

function saveFixture(name: string, graph: Graph = smallNet()): { file: string; model: Model } {
  const file = join(dir, name);
  const model = Model.create(graph, { seed: 1 });
  warmBuffers(model, [4, ...graph.shape(graph.inputs[0]!.name)]);
  saveCheckpoint(file, model, { epoch: 3 });
  return { file, model };
}

test('round trip is bit-exact: every tensor, the graph, the metadata and the eval-mode output', () => {
  const file = join(dir, 'roundtrip.safetensors');
  const graph = smallNet();
  const model = Model.create(graph, { seed: 7 });
  warmBuffers(model, [6, 3, 12, 12]);
  // Running statistics really moved, so buffers are part of what is checked.
  assert.ok(model.tensor('bn1.running_var').toArray().some((v) => v !== 1));
  const meta = { arch: 'smallnet', epoch: 12, accuracy: 0.9871, history: [1.5, 0.25], nested: { lr: 0.1, note: 'ünïcödé' } };
  saveCheckpoint(file, model, meta);

  const { model: back, meta: metaBack } = loadCheckpoint(file);
  try {
    assert.deepEqual(metaBack, meta);
    assert.deepEqual(back.graph.toJSON(), graph.toJSON());
    assertBitExact(model, back);
    // Parameters are trainable again, buffers are not.
    assert.equal(back.tensor('conv1.weight').requiresGrad, true);
    assert.equal(back.tensor('bn1.running_mean').requiresGrad, false);
    tidy(() => assertSameOutput(model, back, randn([8, 3, 12, 12])));
  } finally {
    back.dispose();
    model.dispose();
  }
});

test('the file is a plain safetensors file: one tensor per state-dict key, graph and meta as JSON strings', () => {
  const { file, model } = saveFixture('layout.safetensors');
  tidy(() => {
    const { tensors, metadata } = loadTensors(file);
    assert.deepEqual(Object.keys(tensors).sort(), model.namedTensors().map(([k]) => k).sort());
    assert.equal(metadata[CHECKPOINT_KEYS.version], '1');
    assert.deepEqual(JSON.parse(metadata[CHECKPOINT_KEYS.graph]!), model.graph.toJSON());
    assert.deepEqual(JSON.parse(metadata[CHECKPOINT_KEYS.meta]!), { epoch: 3 });
  });
  model.dispose();
});

test('a pruned-like graph (fewer channels, hand-built or by width multiplier) round-trips with no extra steps', () => {
  for (const [label, graph] of [
    ['hand-built smaller smallnet', smallNet(3)],
    ['lenet5 x0.25', buildArch('lenet5', { widthMultiplier: 0.25 })],
    ['hand-built lenet5 with 5/11/37 channels', handPrunedLeNet()],
  ] as const) {
    const file = join(dir, `pruned-${label.replace(/\W+/g, '_')}.safetensors`);
    const model = Model.create(graph, { seed: 3 });
    saveCheckpoint(file, model);
    const { model: back, meta } = loadCheckpoint(file);
    try {
      assert.deepEqual(meta, {}, label);
      assert.deepEqual(back.graph.toJSON(), graph.toJSON(), label);
      assertBitExact(model, back);
      tidy(() => assertSameOutput(model, back, randn([2, ...graph.shape(graph.inputs[0]!.name)])));
    } finally {
      back.dispose();
      model.dispose();
    }
  }
});

function handPrunedLeNet(): Graph {
  const b = new GraphBuilder('lenet5');
  let x = b.input([1, 28, 28]);
  x = b.maxpool2d(b.relu(b.conv2d(x, 5, 5, { padding: 'same', name: 'conv1' }), { name: 'relu1' }), 2, { name: 'pool1' });
  x = b.maxpool2d(b.relu(b.conv2d(x, 11, 5, { padding: 'same', name: 'conv2' }), { name: 'relu2' }), 2, { name: 'pool2' });
  x = b.flatten(x, { name: 'flatten' });
  x = b.relu(b.linear(x, 37, { name: 'fc1' }), { name: 'relu3' });
  return b.build(b.linear(x, 10, { name: 'fc2' }));
}

test('a corrupted data byte fails the checksum, naming the file', () => {
  const { file, model } = saveFixture('corrupt.safetensors');
  model.dispose();
  const buf = readFileSync(file);
  buf[buf.length - 3]! ^= 0x5a; // inside the data section (the last tensor's bytes)
  writeFileSync(file, buf);
  assert.throws(
    () => loadCheckpoint(file),
    (e: unknown) => e instanceof SerializationError && e.message.includes(file) && /checksum mismatch/.test(e.message),
  );
});

test('a truncated file fails with a SerializationError naming the file', () => {
  const { file, model } = saveFixture('truncated.safetensors');
  model.dispose();
  const buf = readFileSync(file);
  for (const keep of [buf.length - 100, 8 + 20, 5]) {
    writeFileSync(file, buf.subarray(0, keep));
    assert.throws(
      () => loadCheckpoint(file),
      (e: unknown) => e instanceof SerializationError && e.message.startsWith(`${file}:`),
      `truncated to ${keep} bytes`,
    );
  }
});

test('a tensor whose shape was altered fails naming the key and both shapes', () => {
  const { file, model } = saveFixture('tampered.safetensors');
  model.dispose();
  tidy(() => {
    const { tensors, metadata } = loadTensors(file);
    tensors['conv2.weight'] = randn([6, 8, 3, 3]); // the graph says [8, 8, 3, 3]
    saveTensors(file, tensors, metadata);
  });
  assert.throws(
    () => loadCheckpoint(file),
    (e: unknown) => {
      assert.ok(e instanceof GraphError, String(e));
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /'conv2\.weight' has shape \[6, 8, 3, 3\], the graph needs \[8, 8, 3, 3\]/);
      return true;
    },
  );
});

test('missing and unexpected tensors are all listed', () => {
  const { file, model } = saveFixture('keys.safetensors');
  model.dispose();
  tidy(() => {
    const { tensors, metadata } = loadTensors(file);
    delete tensors['bn1.running_mean'];
    delete tensors['fc.bias'];
    tensors['fc.extra'] = randn([5]);
    saveTensors(file, tensors, metadata);
  });
  assert.throws(
    () => loadCheckpoint(file),
    (e: unknown) => {
      assert.ok(e instanceof GraphError);
      assert.ok(e.message.includes(file));
      assert.match(e.message, /missing 'bn1\.running_mean' \[8\]/);
      assert.match(e.message, /missing 'fc\.bias' \[5\]/);
      assert.match(e.message, /unexpected 'fc\.extra'/);
      return true;
    },
  );
});

test('an unknown node kind in the graph JSON fails naming the node and the file', () => {
  const { file, model } = saveFixture('badkind.safetensors');
  model.dispose();
  tidy(() => {
    const { tensors, metadata } = loadTensors(file);
    const g = JSON.parse(metadata[CHECKPOINT_KEYS.graph]!) as { nodes: { name: string; kind: string }[] };
    g.nodes.find((n) => n.name === 'relu1')!.kind = 'frobnicate';
    saveTensors(file, tensors, { ...metadata, [CHECKPOINT_KEYS.graph]: JSON.stringify(g) });
  });
  assert.throws(
    () => loadCheckpoint(file),
    (e: unknown) => {
      assert.ok(e instanceof GraphError, String(e));
      assert.equal(e.node, 'relu1');
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /node 'relu1': unknown kind 'frobnicate'/);
      return true;
    },
  );
});

test('malformed graph JSON and non-checkpoint files are rejected with the file named', () => {
  const { file, model } = saveFixture('badgraph.safetensors');
  model.dispose();
  const variants: [string, (m: Record<string, string>) => Record<string, string>, RegExp][] = [
    ['not JSON', (m) => ({ ...m, [CHECKPOINT_KEYS.graph]: '{"nodes": [' }), /'slimnet\.graph' is not valid JSON/],
    ['node without inputs', (m) => {
      const g = JSON.parse(m[CHECKPOINT_KEYS.graph]!) as { nodes: Record<string, unknown>[] };
      delete g.nodes[1]!.inputs;
      return { ...m, [CHECKPOINT_KEYS.graph]: JSON.stringify(g) };
    }, /node 'conv1': inputs must be an array/],
    ['plain tensor file', (m) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('slimnet.'))), /this safetensors file is not a slimnet checkpoint: it has no 'slimnet\.format_version' metadata, so no network graph.*best\.safetensors/],
    ['graph as a number', (m) => ({ ...m, [CHECKPOINT_KEYS.graph]: 7 as never }), /metadata 'slimnet\.graph' must be a string, got the number 7/],
    ['meta as a list', (m) => ({ ...m, [CHECKPOINT_KEYS.meta]: '[1]' }), /'slimnet\.meta' must be a JSON object, got an array/],
    ['future version', (m) => ({ ...m, [CHECKPOINT_KEYS.version]: '99' }), /unsupported checkpoint format version "99"/],
  ];
  for (const [label, edit, pattern] of variants) {
    const out = join(dir, `badgraph-${label.replace(/\W+/g, '_')}.safetensors`);
    tidy(() => {
      const { tensors, metadata } = loadTensors(file);
      saveTensors(out, tensors, edit(metadata));
    });
    assert.throws(
      () => loadCheckpoint(out),
      (e: unknown) => e instanceof Error && e.message.includes(out) && pattern.test(e.message) && !/loadTensors/.test(e.message),
      label,
    );
  }
});

/** Rewrites a saved checkpoint's safetensors header with `edit` (the data section is kept). */
function editHeader(file: string, out: string, edit: (header: Record<string, any>) => void): void {
  const raw = readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
  edit(header);
  const head = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.byteLength));
  writeFileSync(out, Buffer.concat([len, head, raw.subarray(8 + n)]));
}

test('metadata of the wrong type fails naming the file and the field (a numeric checksum was a TypeError)', () => {
  const { file, model } = saveFixture('metatypes.safetensors');
  model.dispose();
  const out = join(dir, 'metatypes-edited.safetensors');
  const cases: [(h: Record<string, any>) => void, RegExp][] = [
    [(h) => (h.__metadata__['slimnet.sha256'] = 12345), /metadata 'slimnet\.sha256' must be a string, got the number 12345/],
    [(h) => (h.__metadata__['slimnet.format_version'] = 1), /metadata 'slimnet\.format_version' must be a string, got the number 1/],
    [(h) => (h.__metadata__['slimnet.meta'] = { epoch: 3 }), /metadata 'slimnet\.meta' must be a string, got an object/],
    [(h) => (h.__metadata__ = 'none'), /'__metadata__' must be an object of strings, got the string "none"/],
  ];
  for (const [edit, pattern] of cases) {
    editHeader(file, out, edit);
    assert.throws(
      () => loadCheckpoint(out),
      (e: unknown) => e instanceof SerializationError && e.message.startsWith(`${out}: `) && pattern.test(e.message),
      String(pattern),
    );
  }
});

test('files of another kind are recognised: an ONNX model, an image, a trainer state', async () => {
  const model = Model.create(smallNet(), { seed: 2 });
  const { exportOnnx } = await import('../export/onnx/export.js');
  const onnx = join(dir, 'model.onnx');
  writeFileSync(onnx, exportOnnx(model));
  const png = join(dir, 'picture.png');
  writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'));
  const state = join(dir, 'state.safetensors');
  saveTensors(state, { rng: model.parameters()[0]! }, { 'slimnet.trainer_state': '{}' });
  model.dispose();
  const cases: [string, RegExp][] = [
    [onnx, /this is an ONNX model, not a slimnet checkpoint: slimnet writes ONNX \(slimnet export\) but cannot read it back yet; give a slimnet checkpoint/],
    [png, /this is a PNG image, not a slimnet checkpoint/],
    [state, /this is a trainer state \(the state\.safetensors .*slimnet train --version N.*\), not a model checkpoint: give best\.safetensors or last\.safetensors/],
  ];
  for (const [file, pattern] of cases) {
    assert.throws(
      () => loadCheckpoint(file),
      (e: unknown) => e instanceof SerializationError && e.message.startsWith(`${file}: `) && pattern.test(e.message),
      file,
    );
  }
});

test('saveCheckpoint rejects metadata that is not JSON-serialisable', () => {
  const model = Model.create(smallNet(), { seed: 0 });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => saveCheckpoint(join(dir, 'cyclic.safetensors'), model, cyclic), TypeError);
  model.dispose();
});
