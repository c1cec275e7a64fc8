// Image folders: <root>/<class>/<image>.{jpg,jpeg,png}, one subfolder per
// class (CUB-200 and most hand-made data sets are laid out like this).
// Images are decoded lazily with sharp (libvips), resized to a fixed size
// (`imageSize`, default 224) and kept in a small LRU cache of uint8 pixels.
//
// Labels are indices into a class list. A split loaded on its own takes its
// own sorted subfolders; a test split takes the training split's list
// (`classes`), so label k means the same class in both even when the test
// split lacks some: a class the list does not know is an error (the model
// cannot predict it, and its images would be scored as another class), a
// class of the list without a folder here is allowed and named in
// `missingClasses` / `warnings` (its recall is then undefined).
//
// sharp only decodes asynchronously. Dataset.get() is synchronous, so it
// sends the file to one shared decoder thread and blocks on Atomics.wait
// until the pixels come back (receiveMessageOnPort); the data loader instead
// uses the asynchronous path (GET_ASYNC), which lets libvips decode the next
// batch on its own threads while a training step runs.
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { checkIndex, GET_ASYNC, PORTABLE, type AsyncDataset, type DatasetSpec, type PortableDataset, type Sample } from './dataset.js';
import { DataError } from './errors.js';
import { UsageError } from '../util/errors.js';
import { identifyFile } from '../util/file-kind.js';

/** The default side of the square images a folder's files are resized to. */
export const DEFAULT_IMAGE_SIZE = 224;
/** Largest accepted side: a 4096 x 4096 RGB image is 50 MB of float32 per sample. */
const MAX_IMAGE_SIZE = 4096;

export interface FolderOptions {
  /** Size images are resized to: a number for square images, or [height, width]. Default 224. */
  imageSize?: number | readonly [number, number];
  /** The older name of `imageSize` (used when `imageSize` is not given). */
  size?: number | readonly [number, number];
  /** 3 (RGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** Decoded images kept in memory (LRU). Default 512. */
  cacheSize?: number;
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

interface Decoded {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

const require = createRequire(import.meta.url);
type SharpFn = typeof import('sharp').default;
let sharpModule: SharpFn | undefined;
function sharp(): SharpFn {
  sharpModule ??= require('sharp') as SharpFn;
  return sharpModule;
}

/** The first bytes of a file (empty when it cannot be read). */
function head(file: string, n = 64): Uint8Array {
  try {
    const fd = openSync(file, 'r');
    try {
      const b = new Uint8Array(n);
      return b.subarray(0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * A decoding failure for people: libvips repeats its warnings line by line
 * ("VipsJpeg: Bogus marker length" three times); keep the distinct lines, and
 * for a file that is no image at all say what it is.
 */
function decodeFailure(file: string, message: string, cause?: unknown): DataError {
  if (/unsupported image format/i.test(message)) {
    const kind = identifyFile(head(file), file);
    const what = kind ? `this is ${kind.description}` : 'its content is not an image format slimnet reads';
    return new DataError(file, `cannot decode image: not a JPEG or PNG image (${what})`, { cause });
  }
  // "Input file has corrupt header: VipsJpeg: X" then "VipsJpeg: X" again: drop lines an earlier one already ends with.
  const lines: string[] = [];
  for (const l of message.split('\n').map((x) => x.trim())) if (l && !lines.some((k) => k.endsWith(l))) lines.push(l);
  lines.splice(3);
  const why = lines.reduce((text, l) => (text ? `${text}${text.endsWith(':') ? ' ' : '; '}${l}` : l), '').replace(/:$/, '');
  return new DataError(file, `cannot decode image: ${why || 'the decoder gave no reason'}`, { cause });
}

async function decodeAsync(file: string, h: number, w: number): Promise<Decoded> {
  try {
    const { data, info } = await sharp()(file).resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    throw decodeFailure(file, (e as Error).message, e);
  }
}

// --- synchronous decoding through a helper thread -------------------------

const DECODER_SOURCE = `
const { workerData } = require('node:worker_threads');
const sharp = require(workerData.sharpPath);
const { port, flag } = workerData;
port.on('message', async (m) => {
  try {
    const { data, info } = await sharp(m.file).resize(m.w, m.h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    const copy = new Uint8Array(data);
    port.postMessage({ id: m.id, data: copy, width: info.width, height: info.height, channels: info.channels }, [copy.buffer]);
  } catch (e) {
    port.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let decoder: { worker: Worker; port: MessagePort; flag: Int32Array; next: number } | undefined;

function decodeSync(file: string, h: number, w: number): Decoded {
  if (!decoder) {
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(DECODER_SOURCE, { eval: true, workerData: { sharpPath: require.resolve('sharp'), port: port2, flag }, transferList: [port2] });
    worker.unref();
    port1.unref();
    decoder = { worker, port: port1, flag, next: 0 };
  }
  const d = decoder;
  const id = d.next++;
  Atomics.store(d.flag, 0, 0);
  d.port.postMessage({ id, file, w, h });
  for (;;) {
    const r = Atomics.wait(d.flag, 0, 0, 60_000);
    const m = receiveMessageOnPort(d.port)?.message as (Decoded & { id: number; error?: string }) | undefined;
    if (m && m.id === id) {
      if (m.error !== undefined) throw decodeFailure(file, m.error);
      return m;
    }
    if (r === 'timed-out') throw new DataError(file, 'image decoder thread did not answer within 60 s');
  }
}

// --- the data set ---------------------------------------------------------

/** HWC uint8 with any channel count -> CHW uint8 with `channels`. */
function toChw(d: Decoded, channels: 1 | 3): Uint8Array {
  const { width: w, height: h, channels: c, data } = d;
  const plane = w * h;
  const out = new Uint8Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const s = p * c;
    if (channels === 3) {
      const grey = c < 3;
      out[p] = data[s]!;
      out[plane + p] = data[s + (grey ? 0 : 1)]!;
      out[2 * plane + p] = data[s + (grey ? 0 : 2)]!;
    } else {
      out[p] = c < 3 ? data[s]! : Math.round(0.299 * data[s]! + 0.587 * data[s + 1]! + 0.114 * data[s + 2]!);
    }
  }
  return out;
}

export class ImageFolderDataset implements PortableDataset, AsyncDataset {
  readonly length: number;
  readonly sampleShape: readonly [number, number, number];
  /** Classes of the list with no folder in this split (a test split without some training classes). */
  readonly missingClasses: readonly string[];
  /** What a command should tell the user about this data set (one line each; empty when all is well). */
  readonly warnings: readonly string[];
  private readonly cache = new Map<number, Uint8Array>();
  private readonly pending = new Map<number, Promise<Uint8Array>>();
  constructor(
    readonly name: string,
    readonly files: readonly string[],
    private readonly labelArray: Int32Array,
    readonly classes: readonly string[],
    readonly size: readonly [number, number],
    readonly channels: 1 | 3,
    readonly cacheSize: number,
    missingClasses: readonly string[] = [],
  ) {
    this.length = files.length;
    this.sampleShape = [channels, size[0], size[1]];
    this.missingClasses = [...missingClasses];
    const n = missingClasses.length;
    this.warnings = n
      ? [
          `${name}: no images of ${n === 1 ? 'class' : `${n} classes:`} ${missingClasses.map((c) => `'${c}'`).join(', ')} (the training split has ${n === 1 ? 'it' : 'them'}): ${n === 1 ? 'its' : 'their'} recall is undefined and balanced accuracy averages over the other classes`,
        ]
      : [];
  }
  private remember(index: number, px: Uint8Array): Uint8Array {
    if (this.cacheSize > 0) {
      this.cache.set(index, px);
      if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    }
    return px;
  }
  private cached(index: number): Uint8Array | undefined {
    const px = this.cache.get(index);
    if (px) {
      this.cache.delete(index);
      this.cache.set(index, px);
    }
    return px;
  }
  private sample(index: number, px: Uint8Array): Sample {
    const image = new Float32Array(px.length);
    for (let i = 0; i < px.length; i++) image[i] = px[i]! / 255;
    return { image, label: this.labelArray[index]! };
  }
  get(index: number): Sample {
    checkIndex(this, index);
    let px = this.cached(index);
    if (!px) px = this.remember(index, toChw(decodeSync(this.files[index]!, this.size[0], this.size[1]), this.channels));
    return this.sample(index, px);
  }
  async [GET_ASYNC](index: number): Promise<Sample> {
    checkIndex(this, index);
    let px = this.cached(index);
    if (!px) {
      let p = this.pending.get(index);
      if (!p) {
        p = decodeAsync(this.files[index]!, this.size[0], this.size[1]).then((d) => this.remember(index, toChw(d, this.channels)));
        this.pending.set(index, p);
        void p.finally(() => this.pending.delete(index)).catch(() => {});
      }
      px = await p;
    }
    return this.sample(index, px);
  }
  labels(): Int32Array {
    return this.labelArray.slice();
  }
  /** Decodes every image once (asynchronously), so a bad file fails now rather than mid-epoch. */
  async verify(): Promise<void> {
    for (let i = 0; i < this.length; i++) await this[GET_ASYNC](i);
  }
  [PORTABLE](): DatasetSpec {
    return { kind: 'folder', name: this.name, files: [...this.files], labels: this.labelArray, classes: [...this.classes], size: [this.size[0], this.size[1]], channels: this.channels, cacheSize: this.cacheSize };
  }
}

/** The class subfolders of an image folder, sorted by name (hidden folders skipped). */
export function folderClasses(root: string): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DataError(root, 'image folder not found');
  return readdirSync(root)
    .filter((d) => !d.startsWith('.') && statSync(join(root, d)).isDirectory())
    .sort();
}

/** [height, width] from the imageSize option, checked (a UsageError naming imageSize). */
export function imageSizeOf(o: FolderOptions): [number, number] {
  const s = o.imageSize ?? o.size ?? DEFAULT_IMAGE_SIZE;
  const hw: readonly unknown[] = typeof s === 'number' ? [s, s] : Array.isArray(s) && s.length === 2 ? s : [NaN, NaN];
  if (!hw.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_IMAGE_SIZE)) {
    throw new UsageError(`imageSize must be a whole number of pixels from 1 to ${MAX_IMAGE_SIZE} (or [height, width] of such), got ${JSON.stringify(s)}`);
  }
  return [hw[0] as number, hw[1] as number];
}

/**
 * Scans `root` (one subfolder per class) into a lazily decoded data set.
 * Labels index `o.classes` when given (the training split's list: every
 * subfolder must be in it), else the sorted subfolders.
 */
export function loadImageFolder(root: string, o: FolderOptions & { name?: string; classes?: readonly string[] } = {}): ImageFolderDataset {
  const size = imageSizeOf(o);
  const found = folderClasses(root);
  if (found.length === 0) throw new DataError(root, 'no class subfolders (expected <root>/<class>/<image>.jpg|png)');
  const classes = o.classes ? [...o.classes] : found;
  const unknown = found.filter((c) => !classes.includes(c));
  if (unknown.length) {
    throw new DataError(
      root,
      `${unknown.length === 1 ? 'class' : 'classes'} ${unknown.map((c) => `'${c}'`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not among the training classes (${classes.join(', ')}): the model cannot predict ${unknown.length === 1 ? 'it' : 'them'}; add training images for ${unknown.length === 1 ? 'it' : 'them'} or remove the folder`,
    );
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const c of found) {
    const dir = join(root, c);
    const all = readdirSync(dir);
    const images = all.filter((f) => IMAGE_EXT.test(f)).sort();
    if (images.length === 0) {
      throw new DataError(dir, `class folder '${c}' holds no JPEG or PNG images${all.length ? ` (${all.length} other file${all.length === 1 ? '' : 's'}; images end in .jpg, .jpeg or .png)` : ' (it is empty)'}`);
    }
    const k = classes.indexOf(c);
    for (const f of images) {
      files.push(join(dir, f));
      labels.push(k);
    }
  }
  const missing = classes.filter((c) => !found.includes(c));
  return new ImageFolderDataset(o.name ?? root, files, Int32Array.from(labels), classes, size, o.channels ?? 3, o.cacheSize ?? 512, missing);
}
