// The formats the fuzz campaign attacks: for each, the valid files it starts
// from (made here, no downloads), how a malformed case is made from them, and
// what reading a case means (the loader, then what a command does next with
// what it accepted: a checkpoint's provenance and a forward pass, a data set's
// samples).
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { noGrad, tidy, zeros } from '../tensor/index.js';
import { GraphBuilder, Model, loadCheckpoint, saveCheckpoint } from '../graph/index.js';
import { exportOnnx } from '../export/onnx/export.js';
import { loadCifar, loadIdxPair, loadImageFolder, readProvenance, writeIdx } from '../data/index.js';
import { Adam } from '../train/optim/index.js';
import { LrSchedule } from '../train/schedules.js';
import { saveTrainerState, loadTrainerState } from '../train/state-file.js';
import { Trainer, disposeTrainerState } from '../train/trainer.js';
import { ArraySource, blobs, mlp } from '../train/testing.js';
import { chance, concat, int, mutateBytes, mutateJpeg, mutatePng, mutateSafetensors, pick, randomBytes, type Rng } from './mutate.js';

export const FUZZ_FORMATS = ['checkpoint', 'state', 'idx', 'idx-gz', 'cifar', 'image'] as const;
export type FuzzFormat = (typeof FUZZ_FORMATS)[number];

/** One malformed input: files to write (relative paths), the one that was damaged, and how. */
export interface FuzzCase {
  files: Record<string, Uint8Array>;
  target: string;
  how: string;
}

/** The valid files every case starts from, by name. */
export type BaseFiles = Readonly<Record<string, Uint8Array>>;

const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

// ---- the valid files ----------------------------------------------------------------------

function smallNet(): Model {
  const b = new GraphBuilder('fuzznet');
  const x = b.input([3, 8, 8]);
  const h = b.relu(b.batchnorm2d(b.conv2d(x, 4, 3, { padding: 1, bias: false, name: 'conv1' }), { name: 'bn1' }), { name: 'relu1' });
  const r = b.batchnorm2d(b.conv2d(h, 4, 3, { padding: 1, bias: false, name: 'conv2' }), { name: 'bn2' });
  const y = b.relu(b.add([h, r], { name: 'add' }), { name: 'relu2' });
  const p = b.flatten(b.maxpool2d(y, 2, { name: 'pool' }), { name: 'flatten' });
  return Model.create(b.build(b.linear(p, 3, { name: 'fc' })), { seed: 1 });
}

async function trainerState(path: string): Promise<void> {
  const d = blobs(24, { classes: 3, seed: 1 });
  const src = new ArraySource(d.x, d.y, [2], 8, 1);
  using model = mlp(2, 4, 3, { seed: 1 });
  using opt = new Adam(model.parameters(), { lr: 0.01 });
  const trainer = new Trainer({ model, optimizer: opt, schedule: new LrSchedule(opt, { type: 'cosine', length: 3 }) });
  await trainer.fit(src, { epochs: 2, validation: src, earlyStopping: { monitor: 'val.loss', patience: 3 } });
  const s = trainer.state();
  saveTrainerState(path, s);
  disposeTrainerState(s);
}

/** Writes the valid files of every format into `dir` (checkpoint, state, ONNX, IDX, CIFAR, PNG, JPEG). */
export async function prepareBase(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  using model = smallNet();
  saveCheckpoint(join(dir, 'checkpoint.safetensors'), model, {
    command: 'train',
    dataset: 'cifar10',
    root: null,
    arch: 'fuzznet',
    classes: ['a', 'b', 'c'],
    normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    seed: 0,
    validation: 0.1,
    version: 0,
  });
  writeFileSync(join(dir, 'model.onnx'), exportOnnx(model));
  await trainerState(join(dir, 'state.safetensors'));
  const images = Uint8Array.from({ length: 5 * 4 * 4 }, (_, i) => (i * 37) % 256);
  writeIdx(join(dir, 'images-idx3-ubyte'), [5, 4, 4], images);
  writeIdx(join(dir, 'labels-idx1-ubyte'), [5], Uint8Array.from([0, 1, 2, 3, 9]));
  const cifar = (labelBytes: number, labels: number[]) =>
    concat(labels.map((l, k) => concat([Uint8Array.from(labelBytes === 1 ? [l] : [l % 20, l]), Uint8Array.from({ length: 3072 }, (_, i) => (i + k * 11) % 256)])));
  writeFileSync(join(dir, 'cifar10.bin'), cifar(1, [0, 3, 9]));
  writeFileSync(join(dir, 'cifar100.bin'), cifar(2, [0, 42, 99]));
  writeFileSync(join(dir, 'cifar10-names.txt'), ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'].join('\n') + '\n');
  writeFileSync(join(dir, 'cifar100-names.txt'), Array.from({ length: 100 }, (_, i) => `class${i}`).join('\n') + '\n');
  const raw = Buffer.from(Uint8Array.from({ length: 12 * 10 * 3 }, (_, i) => (i * 7) % 256));
  await sharp(raw, { raw: { width: 12, height: 10, channels: 3 } }).png().toFile(join(dir, 'image.png'));
  await sharp(raw, { raw: { width: 12, height: 10, channels: 3 } }).jpeg({ quality: 80 }).toFile(join(dir, 'image.jpg'));
}

export function readBase(dir: string): BaseFiles {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

// ---- cases ----------------------------------------------------------------------------------

/** A whole file of another kind in place of the expected one. */
function typeSwap(r: Rng, base: BaseFiles, not: string): { bytes: Uint8Array; how: string } {
  const kinds: [string, () => Uint8Array][] = [
    ['PNG image', () => base['image.png']!],
    ['JPEG image', () => base['image.jpg']!],
    ['ONNX model', () => base['model.onnx']!],
    ['checkpoint', () => base['checkpoint.safetensors']!],
    ['trainer state', () => base['state.safetensors']!],
    ['IDX images', () => base['images-idx3-ubyte']!],
    ['gzip of a checkpoint', () => gzipSync(base['checkpoint.safetensors']!)],
    ['CIFAR-10 records', () => base['cifar10.bin']!],
    ['JSON text', () => new TextEncoder().encode('{"nodes": [], "format": "slimnet"}\n')],
    ['empty file', () => new Uint8Array(0)],
    ['random bytes', () => randomBytes(r, 1 + int(r, 4096))],
  ];
  const [how, make] = pick(r, kinds.filter(([k]) => k !== not));
  return { bytes: make(), how: `type swap: ${how}` };
}

function safetensorsCase(r: Rng, base: BaseFiles, file: string, jsonKeys: readonly string[], self: string): FuzzCase {
  const valid = base[file]!;
  const u = r();
  const m = u < 0.5 ? mutateSafetensors(r, valid, jsonKeys) : u < 0.88 ? mutateBytes(r, valid) : typeSwap(r, base, self);
  // Sometimes under the name of what it really is (a loader may look at the name).
  const target = m.how.includes('ONNX') && chance(r, 0.5) ? 'model.onnx' : 'model.safetensors';
  return { files: { [target]: m.bytes }, target, how: m.how };
}

/** IDX edits that reach past the magic number: dtype / rank bytes, dimension lies. */
function mutateIdx(r: Rng, b: Uint8Array): { bytes: Uint8Array; how: string } {
  const out = b.slice();
  const dv = new DataView(out.buffer);
  const rank = out[3] ?? 0;
  switch (int(r, 3)) {
    case 0:
      out[2 + int(r, 2)] = pick(r, [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0, 1, 2, 3, 4, 255]);
      return { bytes: out, how: 'magic dtype / rank edit' };
    case 1:
      if (rank > 0 && out.length >= 4 + 4 * rank) {
        dv.setUint32(4 + 4 * int(r, rank), pick(r, [0, 1, 2, 3, 6, 0x7fffffff, 0xffffffff, 65536, int(r, 1 << 16)]));
        return { bytes: out, how: 'dimension lie' };
      }
      return mutateBytes(r, b);
    default:
      return mutateBytes(r, b);
  }
}

function idxCase(r: Rng, base: BaseFiles, gz: boolean): FuzzCase {
  const names = { images: `images-idx3-ubyte${gz ? '.gz' : ''}`, labels: `labels-idx1-ubyte${gz ? '.gz' : ''}` };
  const images = base['images-idx3-ubyte']!;
  const labels = base['labels-idx1-ubyte']!;
  const which = chance(r, 0.6) ? 'images' : 'labels';
  const valid = which === 'images' ? images : labels;
  let m: { bytes: Uint8Array; how: string };
  const u = r();
  if (u < 0.1) m = typeSwap(r, base, 'IDX images');
  else if (gz && u < 0.45) {
    // Damage the compressed stream itself.
    m = mutateBytes(r, gzipSync(valid));
    m.how = `gzip stream: ${m.how}`;
  } else {
    m = chance(r, 0.6) ? mutateIdx(r, valid) : mutateBytes(r, valid);
    if (gz) m.bytes = gzipSync(m.bytes);
  }
  const enc = (b: Uint8Array) => (gz ? gzipSync(b) : b);
  const files = { [names.images]: enc(images), [names.labels]: enc(labels), [names[which]]: m.bytes };
  return { files, target: names[which], how: `${which}: ${m.how}` };
}

function cifarCase(r: Rng, base: BaseFiles): FuzzCase {
  const variant = chance(r, 0.5) ? 'cifar10' : 'cifar100';
  const dataName = variant === 'cifar10' ? 'test_batch.bin' : 'test.bin';
  const namesName = variant === 'cifar10' ? 'batches.meta.txt' : 'fine_label_names.txt';
  const data = base[`${variant}.bin`]!;
  const names = base[`${variant}-names.txt`]!;
  const record = variant === 'cifar10' ? 3073 : 3074;
  const files: Record<string, Uint8Array> = { [dataName]: data, [namesName]: names };
  if (chance(r, 0.15)) {
    // The class-names file: lines dropped, added, binary junk.
    const lines = new TextDecoder().decode(names).split('\n');
    const u = r();
    const edited = u < 0.3 ? lines.slice(0, int(r, lines.length)) : u < 0.6 ? [...lines, 'extra', 'more'] : null;
    files[namesName] = edited ? new TextEncoder().encode(edited.join('\n')) : mutateBytes(r, names).bytes;
    return { files, target: namesName, how: `${variant} class names edit` };
  }
  let m: { bytes: Uint8Array; how: string };
  const u = r();
  if (u < 0.1) m = typeSwap(r, base, 'CIFAR-10 records');
  else if (u < 0.35) {
    const out = data.slice();
    const rec = int(r, out.length / record);
    out[rec * record + int(r, record - 3072)] = pick(r, [10, 99, 100, 101, 255, int(r, 256)]);
    m = { bytes: out, how: 'label edit' };
  } else if (u < 0.5) {
    const n = Math.max(0, data.length + pick(r, [-record, record, -1, 1, -3072, 3072, -data.length]));
    m = { bytes: n <= data.length ? data.slice(0, n) : concat([data, randomBytes(r, n - data.length)]), how: 'record count lie' };
  } else m = mutateBytes(r, data);
  files[dataName] = m.bytes;
  return { files, target: dataName, how: `${variant}: ${m.how}` };
}

function imageCase(r: Rng, base: BaseFiles): FuzzCase {
  const png = chance(r, 0.5);
  const valid = base[png ? 'image.png' : 'image.jpg']!;
  const u = r();
  const m = u < 0.1 ? typeSwap(r, base, png ? 'PNG image' : 'JPEG image') : u < 0.55 ? (png ? mutatePng(r, valid) : mutateJpeg(r, valid)) : mutateBytes(r, valid);
  // Sometimes the extension lies about the format.
  const ext = chance(r, 0.9) ? (png ? 'png' : 'jpg') : png ? 'jpg' : 'png';
  const target = join('train', 'a', `img.${ext}`);
  return { files: { [target]: m.bytes, [join('train', 'b', 'ok.png')]: base['image.png']! }, target, how: `${png ? 'PNG' : 'JPEG'}: ${m.how}` };
}

/** Case `r` of `format`, made from the valid files. */
export function makeCase(format: FuzzFormat, r: Rng, base: BaseFiles): FuzzCase {
  switch (format) {
    case 'checkpoint':
      return safetensorsCase(r, base, 'checkpoint.safetensors', ['slimnet.graph', 'slimnet.meta'], 'checkpoint');
    case 'state':
      return safetensorsCase(r, base, 'state.safetensors', ['slimnet.trainer_state'], 'trainer state');
    case 'idx':
      return idxCase(r, base, false);
    case 'idx-gz':
      return idxCase(r, base, true);
    case 'cifar':
      return cifarCase(r, base);
    case 'image':
      return imageCase(r, base);
  }
}

// ---- reading a case ---------------------------------------------------------------------------

/** Largest input a fuzz forward pass feeds (an accepted graph may declare a huge input). */
const MAX_FORWARD_ELEMENTS = 1 << 20;

/** Reads a case the way a command would; throws what the loader throws. */
export async function readCase(format: FuzzFormat, dir: string, c: FuzzCase): Promise<void> {
  const target = join(dir, c.target);
  switch (format) {
    case 'checkpoint': {
      const { model, meta } = loadCheckpoint(target);
      try {
        readProvenance(meta, target);
        const shapes = model.graph.inputs.map((n) => [1, ...model.graph.shape(n.name)]);
        if (shapes.every((s) => s.reduce((a, d) => a * d, 1) <= MAX_FORWARD_ELEMENTS)) {
          noGrad(() => tidy(() => model.forwardAll(shapes.map((s) => zeros(s)), { training: false })));
        }
      } finally {
        model.dispose();
      }
      return;
    }
    case 'state':
      disposeTrainerState(loadTrainerState(target));
      return;
    case 'idx':
    case 'idx-gz': {
      const gz = format === 'idx-gz' ? '.gz' : '';
      const ds = loadIdxPair('fuzz', join(dir, `images-idx3-ubyte${gz}`), join(dir, `labels-idx1-ubyte${gz}`), DIGITS);
      for (let i = 0; i < ds.length; i++) ds.get(i);
      return;
    }
    case 'cifar': {
      const variant = c.target === 'test_batch.bin' || c.target === 'batches.meta.txt' ? 'cifar10' : 'cifar100';
      const ds = loadCifar(variant, dir, 'test');
      for (let i = 0; i < ds.length; i++) ds.get(i);
      return;
    }
    case 'image': {
      const ds = loadImageFolder(join(dir, 'train'), { imageSize: 8, cacheSize: 0 });
      for (let i = 0; i < ds.length; i++) ds.get(i);
      await ds.verify();
      return;
    }
  }
}

/** For tests: a gzip stream's content (throws on a damaged one). */
export const gunzip = (b: Uint8Array): Uint8Array => new Uint8Array(gunzipSync(b));
