// Checkpoints: a model in ONE safetensors file. The tensors are stored under
// their state-dict keys (`conv1.weight`), the graph JSON and the user's
// metadata ride in the safetensors `__metadata__` as JSON strings:
//
//   slimnet.format_version  '1'
//   slimnet.graph           model.graph.toJSON(), as JSON
//   slimnet.meta            the caller's metadata object, as JSON
//
// Because the graph travels with the weights, any graph — a zoo model, a
// pruned one with fewer channels — saves and reloads with no extra steps.
// Writing is atomic and the data is checksummed (src/tensor/serialize.ts).
// Loading checks, in order: the file (SerializationError for truncation or
// corruption), the graph (GraphError naming the node), then every tensor
// against the graph (GraphError listing each missing, unexpected or
// mis-shaped key). Every error names the file. A file that is not a
// checkpoint at all (an ONNX model, an image, a trainer state, a tensor file
// from another tool) is named for what it is, with what to give instead.
import { decodeSafetensors, describeJson, readTensorFile, saveTensors, SerializationError, type Metadata } from '../tensor/index.js';
import { identifyFile, looksLikeSafetensors, type IdentifiedFile } from '../util/file-kind.js';
import { GraphError } from './ir.js';
import { Graph } from './graph.js';
import { Model } from './model.js';

export const CHECKPOINT_FORMAT_VERSION = 1;

export const CHECKPOINT_KEYS = {
  version: 'slimnet.format_version',
  graph: 'slimnet.graph',
  meta: 'slimnet.meta',
} as const;

export interface LoadedCheckpoint {
  model: Model;
  /** The metadata passed to saveCheckpoint (an empty object if none). */
  meta: Record<string, unknown>;
}

/** Writes `model` (graph, parameters and buffers) and `meta` to one safetensors file, atomically. */
export function saveCheckpoint(path: string, model: Model, meta: Record<string, unknown> = {}): void {
  if (model.isDisposed) throw new Error(`saveCheckpoint(${path}): the model was disposed`);
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new TypeError(`saveCheckpoint(${path}): meta must be a plain object`);
  let metaJson: string;
  try {
    metaJson = JSON.stringify(meta);
  } catch (e) {
    throw new TypeError(`saveCheckpoint(${path}): meta is not JSON-serialisable (${(e as Error).message})`, { cause: e });
  }
  const metadata: Metadata = {
    [CHECKPOINT_KEYS.version]: String(CHECKPOINT_FORMAT_VERSION),
    [CHECKPOINT_KEYS.graph]: JSON.stringify(model.graph.toJSON()),
    [CHECKPOINT_KEYS.meta]: metaJson,
  };
  saveTensors(path, Object.fromEntries(model.namedTensors()), metadata);
}

/** Where checkpoints come from, for messages that tell the user what to give instead. */
const WHERE_CHECKPOINTS_ARE =
  'give a slimnet checkpoint: a .safetensors file written by slimnet train (runs/train/<dataset>-<arch>/version_N/best.safetensors or last.safetensors), prune or slim (pruned.safetensors)';

/** The trainer state's metadata key (src/train/state-file.ts): a state is a safetensors file too. */
const TRAINER_STATE_KEY = 'slimnet.trainer_state';

/** Why a file of another kind is not a checkpoint, and what to give instead. */
function wrongKind(kind: IdentifiedFile): string {
  switch (kind.kind) {
    case 'onnx':
      return `this is an ONNX model, not a slimnet checkpoint: slimnet writes ONNX (slimnet export) but cannot read it back yet; ${WHERE_CHECKPOINTS_ARE}, e.g. the one the ONNX file was exported from`;
    case 'png':
    case 'jpeg':
    case 'gif':
    case 'webp':
      return `this is ${kind.description}, not a slimnet checkpoint (images are data: --dataset folder --root DIR); ${WHERE_CHECKPOINTS_ARE}`;
    case 'zip':
    case 'pickle':
      return `this is ${kind.description}, not a slimnet checkpoint: slimnet reads only its own .safetensors checkpoints, which carry the network's graph; ${WHERE_CHECKPOINTS_ARE}`;
    default:
      return `this is ${kind.description}, not a slimnet checkpoint; ${WHERE_CHECKPOINTS_ARE}`;
  }
}

/** Reads a checkpoint written by saveCheckpoint and validates it against its own graph. */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  const bytes = readTensorFile(path);
  if (!looksLikeSafetensors(bytes)) {
    const kind = identifyFile(bytes, path);
    if (kind) throw new SerializationError(path, wrongKind(kind));
  }
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const disposeAll = () => {
    for (const t of Object.values(tensors)) t.dispose();
  };
  let graph: Graph;
  let meta: Record<string, unknown>;
  try {
    const version = metadata[CHECKPOINT_KEYS.version];
    if (version === undefined) {
      if (metadata[TRAINER_STATE_KEY] !== undefined) {
        throw new SerializationError(
          path,
          `this is a trainer state (the state.safetensors a training run keeps so that slimnet train --version N can resume it), not a model checkpoint: give best.safetensors or last.safetensors from the same run folder`,
        );
      }
      throw new SerializationError(
        path,
        `this safetensors file is not a slimnet checkpoint: it has no '${CHECKPOINT_KEYS.version}' metadata, so no network graph (a checkpoint carries the graph next to the weights; tensors from another tool cannot be loaded as a model); ${WHERE_CHECKPOINTS_ARE}`,
      );
    }
    if (version !== String(CHECKPOINT_FORMAT_VERSION)) {
      throw new SerializationError(path, `unsupported checkpoint format version ${JSON.stringify(version)} (this slimnet reads version ${CHECKPOINT_FORMAT_VERSION})`);
    }
    const graphJson = parseJsonEntry(path, metadata, CHECKPOINT_KEYS.graph);
    meta = metaObject(path, metadata);
    graph = graphFromJson(path, graphJson);
  } catch (e) {
    disposeAll();
    throw e;
  }
  try {
    return { model: Model.fromTensors(graph, tensors, `${path}: the checkpoint's tensors`), meta };
  } catch (e) {
    // fromTensors releases what it had taken; release the rest too.
    disposeAll();
    throw e;
  }
}

function parseJsonEntry(path: string, metadata: Metadata, key: string): unknown {
  const raw = metadata[key];
  if (raw === undefined) throw new SerializationError(path, `checkpoint metadata lacks '${key}'`);
  if (typeof raw !== 'string') throw new SerializationError(path, `checkpoint metadata '${key}' must be a string, got ${typeof raw}`);
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw new SerializationError(path, `checkpoint metadata '${key}' is not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

function metaObject(path: string, metadata: Metadata): Record<string, unknown> {
  if (metadata[CHECKPOINT_KEYS.meta] === undefined) return {};
  const m = parseJsonEntry(path, metadata, CHECKPOINT_KEYS.meta);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new SerializationError(path, `checkpoint metadata '${CHECKPOINT_KEYS.meta}' must be a JSON object, got ${describeJson(m)}`);
  return m as Record<string, unknown>;
}

/** Graph.fromJSON with the node structure checked first, and the file named in any error. */
function graphFromJson(path: string, json: unknown): Graph {
  try {
    const j = json as { nodes?: unknown };
    if (j && typeof j === 'object' && Array.isArray(j.nodes)) {
      j.nodes.forEach((n: unknown, i) => {
        const node = n as Record<string, unknown> | null;
        if (!node || typeof node !== 'object' || Array.isArray(node)) throw new GraphError(`graph node #${i} is not an object`);
        const name = typeof node.name === 'string' && node.name ? node.name : undefined;
        const who = name ?? `#${i}`;
        if (!name) throw new GraphError(`graph node #${i} has no name`);
        if (typeof node.kind !== 'string') throw new GraphError(`has no kind`, who);
        if (!Array.isArray(node.inputs) || !node.inputs.every((x) => typeof x === 'string')) throw new GraphError(`inputs must be an array of node names`, who);
        if (!node.attrs || typeof node.attrs !== 'object' || Array.isArray(node.attrs)) throw new GraphError(`attrs must be an object`, who);
      });
    }
    return Graph.fromJSON(json);
  } catch (e) {
    if (e instanceof GraphError) {
      const err = new GraphError(`${path}: invalid graph in checkpoint: ${e.message}`);
      // Keep the node for programmatic use (the message already names it).
      Object.assign(err, { node: e.node, file: path, cause: e });
      throw err;
    }
    throw new SerializationError(path, `invalid graph in checkpoint: ${(e as Error).message}`, { cause: e });
  }
}
