// The transfer setting's graph edits: find the layer that produces a
// classifier's logits, give a pre-trained model a fresh head for a target
// task's classes (everything else kept bit for bit), and check that a source
// model takes the target data's images before any of that starts.
import { noGrad, type Tensor } from '../tensor/index.js';
import { UsageError } from '../util/errors.js';
import { GraphError, type GraphNode } from './ir.js';
import { hasTrait } from './registry.js';
import { Graph } from './graph.js';
import { Model } from './model.js';
import { conv2dGeometry } from './kinds/conv.js';

/**
 * Whether scores pass through a node class for class: one input, no tensors
 * of its own (a BatchNorm or scale after the head would hold per-class
 * values too), and each output element one class's (activations, dropout,
 * pooling, softmax), or a flatten (checked below to leave one value per class).
 */
function passesScores(graph: Graph, node: GraphNode): boolean {
  if (node.inputs.length !== 1) return false;
  const specs = graph.tensorSpecs(node);
  if (Object.keys(specs.params).length + Object.keys(specs.buffers).length > 0) return false;
  return node.kind === 'flatten' || hasTrait(node, 'channelwise') || hasTrait(node, 'pooling') || hasTrait(node, 'distribution');
}

/** Whether a node can be a classifier head: a linear layer, or an ungrouped conv2d (SqueezeNet's 1x1 conv before a global pool). */
function isHead(node: GraphNode): boolean {
  return node.kind === 'linear' || (node.kind === 'conv2d' && conv2dGeometry(node).groups === 1);
}

function headWidth(node: GraphNode): number {
  return node.kind === 'linear' ? (node.attrs.outFeatures as number) : (node.attrs.outChannels as number);
}

/**
 * The name of the layer that produces the logits of a classifier graph: the
 * linear layer (or ungrouped conv, then pooled) that the first output reads
 * through nodes that pass scores on class for class (relu, dropout, pooling,
 * flatten, softmax). A GraphError, naming the node, when the output is not a
 * class vector (one value per sample and class) or no such layer produces it.
 */
export function headNode(graph: Graph): string {
  const out = graph.outputs[0]!;
  const shape = graph.shape(out);
  if (shape.length !== 1) {
    throw new GraphError(`graph '${graph.name}' outputs [${shape.join(', ')}] per sample from '${out}', not a class vector (one score per class): it is not a classifier, so it has no head to replace`, out);
  }
  const through: string[] = [];
  let node = graph.node(out);
  while (!isHead(node)) {
    if (!passesScores(graph, node)) {
      const what = node.kind === 'conv2d' ? 'a grouped conv2d' : `${/^[aeiou]/.test(node.kind) ? 'an' : 'a'} ${node.kind} node`;
      throw new GraphError(
        `graph '${graph.name}': no classifier layer produces output '${out}': the walk back from it${through.length ? ` (through ${through.map((n) => `'${n}'`).join(', ')})` : ''} reaches ${what}, which is not a linear layer, an ungrouped conv, or a parameter-free node that passes scores on class for class (relu, dropout, pooling, flatten, softmax)`,
        node.name,
      );
    }
    through.push(node.name);
    node = graph.node(node.inputs[0]!);
  }
  // A head whose output is also read elsewhere (or a shared node on the way) would change shape under that reader too.
  for (const n of [node.name, ...through]) {
    const readers = graph.consumers(n).filter((c) => !through.includes(c));
    if (readers.length) throw new GraphError(`graph '${graph.name}': the logits' path through '${n}' is also read by ${readers.map((r) => `'${r}'`).join(', ')}: its head cannot be replaced on its own`, n);
  }
  if (headWidth(node) !== shape[0]) {
    throw new GraphError(`graph '${graph.name}': '${node.name}' gives ${headWidth(node)} channels but output '${out}' has ${shape[0]} values per sample: not one score per class`, node.name);
  }
  return node.name;
}

/**
 * A copy of `model` whose head (headNode) gives `classes` outputs: that
 * layer is freshly initialised as PyTorch initialises a new one (U(±1/√fan-in)
 * for weight and bias, drawn after seeding with `seed`, also when the class
 * count is unchanged); every other tensor is a bit-identical copy. The layer
 * keeps its name, so state keys and pruning reports stay readable; the mode
 * (train / eval) and the frozen parameters outside the head carry over. The
 * caller owns both models.
 */
export function replaceHead(model: Model, classes: number, opts: { seed: number }): Model {
  if (!Number.isInteger(classes) || classes < 1) throw new UsageError(`classes must be a whole number of classes >= 1, got ${classes}`);
  const graph = model.graph;
  const name = headNode(graph);
  const old = graph.node(name);
  const head: GraphNode = { ...old, attrs: { ...old.attrs, [old.kind === 'linear' ? 'outFeatures' : 'outChannels']: classes } };
  const edited = graph.withNodes(graph.nodes.map((n) => (n.name === name ? head : n)));
  // The head alone, fed what it reads, so Model.create initialises exactly its tensors from the seed.
  const feed = name === 'input' ? 'head_input' : 'input';
  const alone = new Graph({ name: `${graph.name}.head`, nodes: [{ name: feed, kind: 'input', inputs: [], attrs: { shape: [...graph.shape(old.inputs[0]!)] } }, { ...head, inputs: [feed] }], outputs: [name] });
  const fresh = Model.create(alone, { seed: opts.seed });
  let tensors: Record<string, Tensor>;
  try {
    tensors = noGrad(() => Object.fromEntries(Model.entries(edited).map((e) => [e.key, (e.node === name ? fresh : model).tensor(e.key).clone()])));
  } finally {
    fresh.dispose();
  }
  const out = Model.fromTensors(edited, tensors, 'tensors with a new head');
  const frozen = model.frozenKeys().filter((k) => !k.startsWith(`${name}.`));
  if (frozen.length) out.freeze(frozen);
  out.training = model.training;
  return out;
}

/** The per-sample input shape a model (or graph) takes: its single input's. */
export function inputShape(modelOrGraph: Model | Graph): readonly number[] {
  const graph = modelOrGraph instanceof Model ? modelOrGraph.graph : modelOrGraph;
  const ins = graph.inputs;
  if (ins.length !== 1) throw new GraphError(`graph '${graph.name}' has ${ins.length} inputs; a model for image data takes one`);
  return graph.shape(ins[0]!.name);
}

/**
 * Checks that a (source) model takes the data's images as they are: the same
 * channels, height and width. Otherwise a UsageError naming both shapes and
 * what to do (`names` says what the model and the data are, for the message).
 */
export function checkInputFits(modelOrGraph: Model | Graph, sampleShape: readonly number[], names: { model?: string; data?: string } = {}): void {
  const want = inputShape(modelOrGraph);
  if (want.length === sampleShape.length && want.every((d, i) => d === sampleShape[i])) return;
  const model = names.model ?? `model '${(modelOrGraph instanceof Model ? modelOrGraph.graph : modelOrGraph).name}'`;
  const data = names.data ?? 'the data';
  const hints: string[] = [];
  if (want.length === 3 && sampleShape.length === 3) {
    if (want[0] !== sampleShape[0]) hints.push(`it was trained on ${want[0]}-channel images and ${data} has ${sampleShape[0]}: use a source trained on ${sampleShape[0]}-channel images (e.g. Fashion-MNIST for digits), or target data with ${want[0]} channels`);
    if (want[1] !== sampleShape[1] || want[2] !== sampleShape[2]) hints.push(`its images are ${want[1]}x${want[2]} and ${data}'s ${sampleShape[1]}x${sampleShape[2]}: resize the target images to ${want[1]}x${want[2]} (an image folder: --image-size ${want[1] === want[2] ? want[1] : `${want[1]},${want[2]}`}), or use a source trained at ${sampleShape[1]}x${sampleShape[2]}`);
  }
  throw new UsageError(`${model} takes input [${want.join(', ')}] per sample but ${data} gives [${sampleShape.join(', ')}]${hints.length ? `: ${hints.join('; ')}` : ''}`);
}
