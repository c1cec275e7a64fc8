// ONNX export of any slimnet model: one ModelProto (opset 17 by default,
// 14 at least for HardSwish and 13 at least for single-axis Softmax),
// float32, with a dynamic batch dimension ('batch') on every graph input and
// output. Node outputs keep their slimnet node names; weights become
// initializers named by their slimnet keys (`conv1.weight`). The graph is
// exported in eval mode (BatchNorm running statistics, no dropout).
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';
import type { Model } from '../../graph/model.js';
import { GraphError, type Shape } from '../../graph/ir.js';
import { noGrad } from '../../tensor/index.js';
import { atomicWriteFile } from '../../util/atomic-write.js';
import { onnxHandlers, OnnxExportError, type OnnxAttr, type OnnxNodeContext } from './handlers.js';

const { onnx } = onnxProto;

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
/** Opsets this exporter writes; the operators it emits have the semantics it relies on in all of them. */
export const MAX_OPSET = 21;
/** The batch dimension's symbolic name on graph inputs and outputs. */
export const BATCH_DIM = 'batch';

export interface OnnxExportOptions {
  /** Default opset version (default 17; 13 to 21). */
  opset?: number;
  /** producer_name written into the model (default 'slimnet'). */
  producer?: string;
  /** producer_version (default the slimnet version). */
  producerVersion?: string;
}

/** The IR version released with each opset (ONNX 1.10-1.13: IR 8 up to opset 18; 1.14-1.15: IR 9 for 19-20; 1.16: IR 10 for 21). */
function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}
const SLIMNET_VERSION = '0.1.0';

function attributeProto(name: string, a: OnnxAttr): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function valueInfo(name: string, shape: Shape): O.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: BATCH_DIM }, ...shape.map((d) => ({ dimValue: d }))] } } },
  };
}

function littleEndianBytes(a: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  // rawData is little-endian; node runs on little-endian hosts in practice, but be exact.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return bytes.slice();
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  if (a instanceof Float32Array) a.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  else a.forEach((v, i) => dv.setBigInt64(i * 8, v, true));
  return out;
}

/** Builds the ONNX ModelProto of `model` (not encoded). */
export function buildOnnxModel(model: Model, opts: OnnxExportOptions = {}): O.ModelProto {
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new OnnxExportError(`opset ${opset} is not supported (this exporter writes opsets ${MIN_OPSET} to ${MAX_OPSET})`);
  }
  if (model.isDisposed) throw new OnnxExportError(`cannot export model '${model.graph.name}': it was disposed`);
  const graph = model.graph;
  const missing = [...new Set(graph.nodes.map((n) => n.kind))].filter((k) => !onnxHandlers.has(k));
  if (missing.length) {
    const nodes = graph.nodes.filter((n) => missing.includes(n.kind)).map((n) => `'${n.name}' (${n.kind})`);
    throw new OnnxExportError(`ONNX export does not support kind${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')}, used by ${nodes.join(', ')}`);
  }

  const used = new Set<string>();
  // Reserve every value and tensor name first so generated names never collide with them.
  for (const n of graph.nodes) used.add(n.name);
  for (const [key] of model.namedTensors()) used.add(key);
  const unique = (hint: string): string => {
    let name = hint;
    for (let i = 1; used.has(name); i++) name = `${hint}_${i}`;
    used.add(name);
    return name;
  };

  const nodes: O.INodeProto[] = [];
  const initializers: O.ITensorProto[] = [];
  const added = new Set<string>();
  const inputs: O.IValueInfoProto[] = [];

  noGrad(() => {
    for (const node of graph.nodes) {
      const handler = onnxHandlers.get(node);
      const own = model.nodeTensors(node);
      const ctx: OnnxNodeContext = {
        node,
        inputShapes: graph.inputShapes(node),
        outputShape: graph.shape(node.name),
        opset,
        output: node.name,
        input(i) {
          const n = node.inputs[i];
          if (n === undefined) throw new OnnxExportError(`has no input ${i}`, node.name);
          return n;
        },
        hasTensor: (name) => name in own,
        tensor(name) {
          const t = own[name];
          if (!t) throw new OnnxExportError(`has no tensor '${name}'`, node.name);
          const key = `${node.name}.${name}`;
          if (!added.has(key)) {
            added.add(key);
            if (t.dtype === 'float32') {
              initializers.push({ name: key, dims: t.shape, dataType: onnx.TensorProto.DataType.FLOAT, rawData: littleEndianBytes(t.data<'float32'>()) });
            } else if (t.dtype === 'int64') {
              initializers.push({ name: key, dims: t.shape, dataType: onnx.TensorProto.DataType.INT64, rawData: littleEndianBytes(t.data<'int64'>()) });
            } else {
              throw new OnnxExportError(`tensor '${key}' is ${t.dtype}; ONNX export writes float32 and int64 tensors`, node.name);
            }
          }
          return key;
        },
        constFloat(hint, values, dims) {
          const name = unique(hint);
          initializers.push({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: littleEndianBytes(Float32Array.from(values)) });
          return name;
        },
        constInt64(hint, values, dims = [values.length]) {
          const name = unique(hint);
          initializers.push({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.INT64, rawData: littleEndianBytes(BigInt64Array.from(values, (v) => BigInt(v))) });
          return name;
        },
        temp: (hint) => unique(hint),
        emit(opType, ins, outs, attrs = {}) {
          nodes.push({
            name: unique(`${node.name}/${opType}`),
            opType,
            domain: '',
            input: [...ins],
            output: [...outs],
            attribute: Object.entries(attrs).map(([n, a]) => attributeProto(n, a)),
          });
        },
        graphInput(name, shape) {
          inputs.push(valueInfo(name, shape));
        },
      };
      try {
        handler(ctx);
      } catch (e) {
        if (e instanceof GraphError) throw e;
        throw new OnnxExportError(`ONNX export failed: ${(e as Error).message}`, node.name);
      }
    }
  });

  return onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: opts.producer ?? 'slimnet',
    producerVersion: opts.producerVersion ?? SLIMNET_VERSION,
    docString: `slimnet graph '${graph.name}', exported in eval mode`,
    graph: {
      name: graph.name,
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: graph.outputs.map((o) => valueInfo(o, graph.shape(o))),
    },
  });
}

/** The model as ONNX protobuf bytes (see the module comment for conventions). */
export function exportOnnx(model: Model, opts: OnnxExportOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(buildOnnxModel(model, opts)).finish();
}

/** Exports `model` and writes it to `path` atomically; returns the bytes written. */
export function saveOnnx(model: Model, path: string, opts: OnnxExportOptions = {}): Uint8Array {
  const bytes = exportOnnx(model, opts);
  atomicWriteFile(path, bytes);
  return bytes;
}

/** Number of ONNX nodes in encoded model bytes. */
export function onnxNodeCount(bytes: Uint8Array): number {
  return onnx.ModelProto.decode(bytes).graph?.node?.length ?? 0;
}
