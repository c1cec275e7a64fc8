// Where a teacher comes from: a slimnet checkpoint, or an ONNX file from any
// framework (imported into a slimnet graph, so its features can be hooked
// like a zoo model's). The teacher is frozen and runs in eval mode under
// no-grad; it counts its forward passes, so a test can pin that a step runs
// it once whatever the number of losses.
import { existsSync, statSync } from 'node:fs';
import { noGrad, type Tensor } from '../tensor/index.js';
import { Model, loadCheckpoint, type Graph, type Hooks } from '../graph/index.js';
import { importOnnx } from '../export/index.js';
import { SlimnetError } from '../util/errors.js';
import { DistillError } from './errors.js';

export type TeacherKind = 'checkpoint' | 'onnx';

export interface Teacher {
  model: Model;
  kind: TeacherKind;
  path: string;
  /** The checkpoint's metadata (its data provenance); empty for ONNX. */
  meta: Record<string, unknown>;
}

/** The class count (logits per sample) of a classifier graph. */
export function classCount(graph: Graph): number {
  const s = graph.shape(graph.outputs[0]!);
  if (s.length !== 1) throw new DistillError(`${graph.name}: the output '${graph.outputs[0]}' is [${s.join(', ')}] per sample, not a vector of class logits`);
  return s[0]!;
}


/**
 * Loads a teacher from a checkpoint (.safetensors) or an ONNX file (.onnx, or
 * any file that is not a checkpoint: the importer tells). `inputShape`: the
 * per-sample input for ONNX files whose input dimensions are symbolic.
 */
export function loadTeacher(path: string, o: { inputShape?: readonly number[] } = {}): Teacher {
  if (!existsSync(path)) throw new DistillError(`teacher file ${path} does not exist`);
  if (statSync(path).isDirectory()) throw new DistillError(`teacher ${path} is a directory: give a checkpoint (.safetensors) or an ONNX file (.onnx)`);
  const onnx = path.toLowerCase().endsWith('.onnx');
  let t: Teacher;
  try {
    if (onnx) {
      const r = importOnnx(path, o.inputShape ? { inputShape: o.inputShape } : {});
      t = { model: Model.fromTensors(r.graph, r.tensors, path), kind: 'onnx', path, meta: {} };
    } else {
      const { model, meta } = loadCheckpoint(path);
      t = { model, kind: 'checkpoint', path, meta };
    }
  } catch (e) {
    if (e instanceof SlimnetError) throw new DistillError(`teacher ${path} cannot be ${onnx ? 'imported' : 'loaded'}: ${e.message}`, { cause: e });
    throw e;
  }
  t.model.freeze();
  t.model.eval();
  return t;
}

/**
 * Runs the teacher: eval mode, no gradients, the outputs of `nodes` collected
 * on the way (the step's scope owns every tensor it returns).
 */
export class TeacherRunner {
  /** Forward passes so far (one per training step when the teacher runs live). */
  forwards = 0;

  constructor(
    readonly model: Model,
    private readonly nodes: readonly string[],
  ) {}

  run(x: Tensor): { logits: Tensor; features: Map<string, Tensor> } {
    this.forwards += 1;
    const features = new Map<string, Tensor>();
    const want = new Set(this.nodes);
    const hooks: Hooks = {
      onOutput: (node, out) => {
        if (want.has(node.name)) features.set(node.name, out.share());
        return undefined;
      },
    };
    const logits = noGrad(() => this.model.forward(x, { training: false, hooks }));
    return { logits, features };
  }
}
