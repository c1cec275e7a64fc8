// Nodes joining several inputs: residual add, elementwise mul (gating, with
// broadcasting), sub and div (broadcasting too), channel concat.
import { F } from '../../tensor/index.js';
import { GraphError, type GraphNode, type Shape } from '../ir.js';
import { NO_TENSORS, attrInt, defineKind } from '../registry.js';

const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

defineKind({
  kind: 'add',
  traits: ['merge', 'elementwise'],
  arity: [2, 16],
  validate: () => {},
  inferShape(node, inputs) {
    for (const s of inputs) {
      if (!same(s, inputs[0]!)) throw new GraphError(`add inputs must have equal shapes, got ${inputs.map((x) => `[${x.join(', ')}]`).join(' and ')} (from ${node.inputs.join(', ')})`, node.name);
    }
    return inputs[0]!;
  },
  tensors: () => NO_TENSORS,
  forward(_node, inputs) {
    let acc = inputs[0]!.add(inputs[1]!);
    for (const x of inputs.slice(2)) {
      const next = acc.add(x);
      acc.dispose();
      acc = next;
    }
    return acc;
  },
  cost: () => ({ macs: 0 }),
});

/** Broadcast two per-sample shapes the NumPy way (right-aligned). */
export function broadcast(node: GraphNode, a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new GraphError(`cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`, node.name);
    out.push(Math.max(x, y));
  }
  return out;
}

// Elementwise binary ops with broadcasting: mul (gating), and sub / div of two
// computed tensors (what ONNX files from other frameworks contain, e.g. a
// residual-style x − sigmoid(y)).
for (const [kind, op] of [
  ['mul', 'mul'],
  ['sub', 'sub'],
  ['div', 'div'],
] as const) {
  defineKind({
    kind,
    traits: ['merge', 'elementwise'],
    arity: 2,
    validate: () => {},
    inferShape: (node, [a, b]) => broadcast(node, a!, b!),
    tensors: () => NO_TENSORS,
    forward(_node, [a, b]) {
      if (a!.ndim === b!.ndim) return a![op](b!);
      // Per-sample shapes broadcast right-aligned, but the batch dimension must
      // stay first: give the lower-rank operand unit dimensions after it.
      const unit = (lo: typeof a, rank: number) => lo!.reshape([lo!.size(0), ...new Array<number>(rank - lo!.ndim).fill(1), ...lo!.shape.slice(1)]);
      const [x, y] = a!.ndim < b!.ndim ? [unit(a, b!.ndim), b!] : [a!, unit(b, a!.ndim)];
      const out = x[op](y);
      (x === a ? y : x).dispose();
      return out;
    },
    cost: () => ({ macs: 0 }),
  });
}

/** Axis in batch-inclusive numbering (1 = channels), as ONNX and PyTorch count it. */
export function concatAxis(node: GraphNode, rank: number): number {
  const axis = attrInt(node, 'axis', { default: 1 });
  const a = axis < 0 ? axis + rank + 1 : axis;
  if (a < 1 || a > rank) throw new GraphError(`concat axis ${axis} is out of range for rank-${rank} samples (the batch axis 0 cannot be concatenated)`, node.name);
  return a;
}

defineKind({
  kind: 'concat',
  traits: ['merge'],
  arity: [1, 64],
  validate: (node) => void attrInt(node, 'axis', { default: 1 }),
  inferShape(node, inputs) {
    const rank = inputs[0]!.length;
    const a = concatAxis(node, rank) - 1;
    const out = [...inputs[0]!];
    out[a] = 0;
    for (const s of inputs) {
      if (s.length !== rank || s.some((d, i) => i !== a && d !== inputs[0]![i])) {
        throw new GraphError(`concat inputs must agree except on axis ${a + 1}, got ${inputs.map((x) => `[${x.join(', ')}]`).join(', ')}`, node.name);
      }
      out[a]! += s[a]!;
    }
    return out;
  },
  tensors: () => NO_TENSORS,
  forward: (node, inputs) => F.cat(inputs, concatAxis(node, inputs[0]!.ndim - 1)),
  cost: () => ({ macs: 0 }),
});

// Progressive replacement's blend (seed 001): y = α · a + (1 − α) · b, with a
// the original layer's output, b its replacement branch's, and α a saved,
// untrained buffer that a schedule moves from 1 to 0. At α = 1 the output is
// exactly a (b is multiplied by an exact 0), at α = 0 exactly b.
defineKind({
  kind: 'blend',
  traits: ['merge', 'elementwise'],
  arity: 2,
  validate: () => {},
  inferShape(node, [a, b]) {
    if (!same(a!, b!)) throw new GraphError(`blend inputs must have equal shapes, got [${a!.join(', ')}] and [${b!.join(', ')}] (from ${node.inputs.join(', ')})`, node.name);
    return a!;
  },
  tensors: () => ({ params: {}, buffers: { alpha: { shape: [1], init: { kind: 'ones' } } } }),
  forward(_node, [a, b], t) {
    const alpha = t.alpha!;
    const beta = alpha.neg().add(1);
    const x = a!.mul(alpha);
    const y = b!.mul(beta);
    const out = x.add(y);
    for (const z of [beta, x, y]) z.dispose();
    return out;
  },
  cost: () => ({ macs: 0 }),
});
