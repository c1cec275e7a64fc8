// A trainer state in one safetensors file (atomic write, checksummed, see
// src/tensor/serialize.ts): the tensors under their state names, the JSON part
// in the metadata under 'slimnet.trainer_state'. Non-finite numbers in the
// history (NaN recall of an absent class) survive the JSON round trip.
//
// Reading checks the type of every field the trainer uses (not the values'
// meaning: Trainer.loadState compares them with the trainer it restores), so a
// damaged or hand-edited state fails here with the file and the field named,
// not later with a TypeError deep in the trainer. Unknown fields are kept:
// newer states may carry more.
import { decodeSafetensors, describeJson, readTensorFile, saveTensors, SerializationError, type Tensor } from '../tensor/index.js';
import { identifyFile, looksLikeSafetensors } from '../util/file-kind.js';
import type { TrainerState, TrainerStateMeta } from './trainer.js';

const KEY = 'slimnet.trainer_state';
const CHECKPOINT_VERSION_KEY = 'slimnet.format_version';

export function saveTrainerState(path: string, s: TrainerState): void {
  const json = JSON.stringify(s.meta, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v));
  saveTensors(path, s.tensors, { [KEY]: json });
}

const RESUME_HINT = "resuming needs the run's state.safetensors (runs/train/<dataset>-<arch>/version_N/state.safetensors), which slimnet train writes after every epoch and on Ctrl-C";

export function loadTrainerState(path: string): TrainerState {
  const bytes = readTensorFile(path);
  if (!looksLikeSafetensors(bytes)) {
    const kind = identifyFile(bytes, path);
    if (kind) throw new SerializationError(path, `this is ${kind.description}, not a trainer state: ${RESUME_HINT}`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  try {
    const raw = metadata[KEY];
    if (raw === undefined) {
      if (metadata[CHECKPOINT_VERSION_KEY] !== undefined) {
        throw new SerializationError(path, `this is a model checkpoint, not a trainer state: a checkpoint holds the weights only, not the optimizer and schedule; ${RESUME_HINT}`);
      }
      throw new SerializationError(path, `not a trainer state: the metadata has no '${KEY}'; ${RESUME_HINT}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw, (_k, v: unknown) =>
        v !== null && typeof v === 'object' && '$num' in v && Object.keys(v).length === 1 ? Number((v as { $num: string }).$num) : v,
      );
    } catch (e) {
      throw new SerializationError(path, `trainer state metadata '${KEY}' is not valid JSON (${(e as Error).message})`, { cause: e });
    }
    const meta = checkMeta(path, parsed);
    checkTensors(path, tensors);
    return { meta, tensors };
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
}

// ---- validation ---------------------------------------------------------------------------

type Fail = (field: string, want: string, got: unknown) => never;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
// JSON numbers, plus the non-finite ones the writer encodes ({ $num: 'NaN' }).
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function field(o: Record<string, unknown>, name: string, where: string, want: string, ok: (v: unknown) => boolean, fail: Fail): unknown {
  const v = o[name];
  if (!ok(v)) fail(`${where}${name}`, want, v);
  return v;
}

function numbers(v: unknown): boolean {
  return Array.isArray(v) && v.every(isNumber);
}

function checkTrainSummary(t: unknown, where: string, fail: Fail): void {
  if (!isObject(t)) fail(where, 'an object', t);
  const o = t as Record<string, unknown>;
  for (const k of ['loss', 'dataLoss', 'accuracy']) field(o, k, `${where}.`, 'a number', isNumber, fail);
  for (const k of ['samples', 'steps']) field(o, k, `${where}.`, 'a count', isCount, fail);
  field(o, 'extra', `${where}.`, 'an object of numbers', (v) => isObject(v) && Object.values(v).every(isNumber), fail);
}

function checkMetrics(m: unknown, where: string, fail: Fail): void {
  if (!isObject(m)) fail(where, 'an object', m);
  const o = m as Record<string, unknown>;
  field(o, 'count', `${where}.`, 'a count', isCount, fail);
  for (const k of ['loss', 'accuracy', 'top5', 'balancedAccuracy']) field(o, k, `${where}.`, 'a number', isNumber, fail);
  field(o, 'perClassRecall', `${where}.`, 'a list of numbers', numbers, fail);
  field(o, 'confusion', `${where}.`, 'a list of lists of numbers', (v) => Array.isArray(v) && v.every(numbers), fail);
  if (o.classes !== undefined) field(o, 'classes', `${where}.`, 'a list of strings', (v) => Array.isArray(v) && v.every((c) => typeof c === 'string'), fail);
}

function checkMeta(path: string, m: unknown): TrainerStateMeta {
  const fail: Fail = (name, want, got) => {
    throw new SerializationError(path, `trainer state field '${name}' must be ${want}, got ${describeJson(got)}`);
  };
  if (!isObject(m)) fail('(the state)', 'an object', m);
  const o = m as Record<string, unknown>;
  if (o.format !== 'slimnet.trainer-state') fail('format', "'slimnet.trainer-state'", o.format);
  if (o.version !== 1) fail('version', '1 (the version this slimnet reads)', o.version);
  field(o, 'epoch', '', 'a count', isCount, fail);
  field(o, 'globalStep', '', 'a count', isCount, fail);
  if (o.partial !== null) {
    const p = field(o, 'partial', '', 'null or an object', isObject, fail) as Record<string, unknown>;
    for (const k of ['steps', 'samples', 'correct']) field(p, k, 'partial.', 'a count', isCount, fail);
    for (const k of ['lossSum', 'dataLossSum', 'seconds']) field(p, k, 'partial.', 'a number', isNumber, fail);
    for (const k of ['extraSums', 'lrs']) field(p, k, 'partial.', 'a list of numbers', numbers, fail);
  }
  const opt = field(o, 'optimizer', '', 'an object', isObject, fail) as Record<string, unknown>;
  field(opt, 'type', 'optimizer.', 'a string', (v) => typeof v === 'string', fail);
  const groups = field(opt, 'groups', 'optimizer.', 'a list', Array.isArray, fail) as unknown[];
  groups.forEach((g, i) => {
    if (!isObject(g)) fail(`optimizer.groups[${i}]`, 'an object', g);
    const go = g as Record<string, unknown>;
    field(go, 'hyper', `optimizer.groups[${i}].`, 'an object', isObject, fail);
    field(go, 'params', `optimizer.groups[${i}].`, 'a list of parameter indices', (v) => Array.isArray(v) && v.every(isCount), fail);
  });
  if (o.schedule !== null) {
    const s = field(o, 'schedule', '', 'null or an object', isObject, fail) as Record<string, unknown>;
    field(s, 'spec', 'schedule.', 'an object with a type', (v) => isObject(v) && typeof v.type === 'string', fail);
    field(s, 'position', 'schedule.', 'a count', isCount, fail);
    field(s, 'baseLrs', 'schedule.', 'a list of numbers', numbers, fail);
  }
  if (o.earlyStopping !== null) {
    const e = field(o, 'earlyStopping', '', 'null or an object', isObject, fail) as Record<string, unknown>;
    for (const k of ['best', 'bestEpoch', 'stoppedEpoch']) field(e, k, 'earlyStopping.', 'a number or null', (v) => v === null || isNumber(v), fail);
    field(e, 'wait', 'earlyStopping.', 'a count', isCount, fail);
  }
  const history = field(o, 'history', '', 'a list', Array.isArray, fail) as unknown[];
  history.forEach((r, i) => {
    const where = `history[${i}]`;
    if (!isObject(r)) fail(where, 'an object', r);
    const ro = r as Record<string, unknown>;
    field(ro, 'epoch', `${where}.`, 'a count', isCount, fail);
    for (const k of ['lr', 'seconds']) field(ro, k, `${where}.`, 'a number', isNumber, fail);
    field(ro, 'lrs', `${where}.`, 'a list of numbers', numbers, fail);
    field(ro, 'completed', `${where}.`, 'true or false', (v) => typeof v === 'boolean', fail);
    checkTrainSummary(ro.train, `${where}.train`, fail);
    if (ro.val !== undefined) checkMetrics(ro.val, `${where}.val`, fail);
  });
  if (o.auxiliary !== undefined) field(o, 'auxiliary', '', 'a list of module names', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'), fail);
  return o as unknown as TrainerStateMeta;
}

/** The tensors every state has: the RNG state (the rest depends on the model, which Trainer.loadState checks). */
function checkTensors(path: string, tensors: Record<string, Tensor>): void {
  const rng = tensors.rng;
  if (!rng) throw new SerializationError(path, "trainer state has no 'rng' tensor (the random generator's state)");
  if (rng.dtype !== 'uint8' || rng.shape.length !== 1) throw new SerializationError(path, `trainer state tensor 'rng' must be a 1-D uint8 tensor, got ${rng.dtype} [${rng.shape.join(', ')}]`);
}
