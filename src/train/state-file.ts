// A trainer state in one safetensors file (atomic write, checksummed, see
// src/tensor/serialize.ts): the tensors under their state names, the JSON part
// in the metadata under 'slimnet.trainer_state'. Non-finite numbers in the
// history (NaN recall of an absent class) survive the JSON round trip.
import { loadTensors, saveTensors, SerializationError } from '../tensor/index.js';
import type { TrainerState, TrainerStateMeta } from './trainer.js';

const KEY = 'slimnet.trainer_state';

export function saveTrainerState(path: string, s: TrainerState): void {
  const json = JSON.stringify(s.meta, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v));
  saveTensors(path, s.tensors, { [KEY]: json });
}

export function loadTrainerState(path: string): TrainerState {
  const { tensors, metadata } = loadTensors(path);
  const raw = metadata[KEY];
  if (raw === undefined) {
    for (const t of Object.values(tensors)) t.dispose();
    throw new SerializationError(path, `not a trainer state: the metadata has no '${KEY}'`);
  }
  const meta = JSON.parse(raw, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && '$num' in v && Object.keys(v).length === 1 ? Number((v as { $num: string }).$num) : v,
  ) as TrainerStateMeta;
  return { meta, tensors };
}
