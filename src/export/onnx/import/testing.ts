// Test support for the ONNX importer: small zoo models with non-trivial
// BatchNorm statistics, and hand-written ONNX models (onnx-proto) for ops the
// exporter never emits.
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';
import { Model, hasTrait, type Graph } from '../../../graph/index.js';
import { noGrad, rand, randn } from '../../../tensor/index.js';
import type { ArchOptions } from '../../../models/index.js';

const { onnx } = onnxProto;

/** Zoo architectures small enough for a round trip in a test (name, options). */
export const SMALL_ZOO: readonly [string, ArchOptions][] = [
  ['lenet5', {}],
  ['resnet20', { widthMultiplier: 0.25 }],
  ['mobilenetv2', { widthMultiplier: 0.25 }],
  ['vgg11_bn', { widthMultiplier: 0.125 }],
  ['densenet_cifar', { widthMultiplier: 0.25 }],
  ['resnet18', { widthMultiplier: 0.125, imageSize: 32 }],
];

/** A model of `graph` with random weights and BatchNorm statistics that are not the identity. */
export function randomModel(graph: Graph, seed = 0): Model {
  const model = Model.create(graph, { seed });
  noGrad(() => {
    for (const [key, t] of model.namedTensors()) {
      const node = graph.node(key.slice(0, key.lastIndexOf('.')));
      if (!hasTrait(node, 'norm')) continue;
      const name = key.slice(key.lastIndexOf('.') + 1);
      const r = name === 'running_var' ? rand(t.shape).mul_(1.5).add_(0.5) : name === 'weight' ? rand(t.shape).add_(0.5) : randn(t.shape).mul_(0.5);
      t.copy_(r);
      r.dispose();
    }
  });
  return model.eval();
}

export type Attr = number | number[] | string | { floats: number[] } | { float: number };

function attr(name: string, v: Attr): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object' && 'floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INT, i: v };
}

/** A tiny ONNX model written by hand. */
export class OnnxWriter {
  private nodes: O.INodeProto[] = [];
  private inits: O.ITensorProto[] = [];
  private count = 0;
  constructor(
    private readonly inputShape: number[],
    private readonly opset = 17,
  ) {}
  floats(name: string, dims: number[], data?: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = data ?? Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + dims.length) * 0.5);
    this.inits.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values });
    return name;
  }
  ints(name: string, data: number[]): string {
    this.inits.push({ name, dims: [data.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: data });
    return name;
  }
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs?: string[], extra: Partial<O.INodeProto> = {}): string {
    const out = outputs ?? [`v${this.count++}`];
    this.nodes.push({ name: `${op}_${this.count++}`, opType: op, input: inputs, output: out, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)), ...extra });
    return out[0]!;
  }
  constantNode(dims: number[], data: number[]): string {
    return this.node('Constant', [], {}, undefined, {
      attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: data } }],
    });
  }
  bytes(output: string): Uint8Array {
    const vi = (name: string, dims: (number | string)[]): O.IValueInfoProto => ({
      name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
    });
    return onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: '', version: this.opset }],
        producerName: 'hand',
        graph: { name: 'hand', node: this.nodes, initializer: this.inits, input: [vi('x', ['N', ...this.inputShape])], output: [vi(output, ['N'])] },
      }),
    ).finish();
  }
}
