// IDX files (the MNIST / Fashion-MNIST format), gzipped or raw: a big-endian
// magic number 0x000008NN (0x08 = unsigned bytes, NN = number of dimensions),
// NN big-endian uint32 dimensions, then the bytes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ArrayDataset, checkLabels, sharedUint8, type Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { identifyFile } from '../util/file-kind.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxArray {
  dims: number[];
  /** The payload (a SharedArrayBuffer-backed copy). */
  data: Uint8Array;
}

function readMaybeGzipped(file: string): Buffer {
  if (!existsSync(file)) throw new DataError(file, 'file not found');
  let bytes: Buffer = readFileSync(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataError(file, `corrupt or truncated gzip data (${(e as Error).message})`, { cause: e });
    }
  }
  return bytes;
}

const IDX_TYPES: Readonly<Record<number, string>> = { 0x08: 'unsigned bytes', 0x09: 'signed bytes', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Why a magic number is wrong, in words: another IDX kind, another data type, or another file altogether. */
function wrongMagic(bytes: Uint8Array, file: string, found: number, magic: number): string {
  const want = magic === IDX_IMAGES_MAGIC ? 'IDX images (3 dimensions)' : 'IDX labels (1 dimension)';
  const expected = `magic number ${hex(found)}, expected ${hex(magic)}`;
  if (found >>> 16 === 0 && IDX_TYPES[(found >>> 8) & 0xff]) {
    const type = (found >>> 8) & 0xff;
    const rank = found & 0xff;
    if (type !== 0x08) return `an IDX file of ${IDX_TYPES[type]}, but slimnet reads unsigned-byte IDX files (${expected})`;
    if (rank === 3 || rank === 1) return `this is IDX ${rank === 3 ? 'images' : 'labels'}, expected ${want}: are the images and labels files swapped? (${expected})`;
    return `an IDX file of ${rank} dimensions, expected ${want} (${expected})`;
  }
  const kind = identifyFile(bytes, file);
  return `not an IDX file${kind && kind.kind !== 'idx' ? `: this is ${kind.description}` : ''} (${expected} for ${want})`;
}

/** Reads an IDX file of unsigned bytes; `magic` is the expected magic number. */
export function readIdx(file: string, magic: number): IdxArray {
  const bytes = readMaybeGzipped(file);
  if (bytes.length < 4) throw new DataError(file, `truncated IDX file: ${bytes.length} bytes, no header`);
  const found = bytes.readUInt32BE(0);
  if (found !== magic) throw new DataError(file, wrongMagic(bytes, file, found, magic));
  const nd = magic & 0xff;
  const header = 4 + 4 * nd;
  if (bytes.length < header) throw new DataError(file, `truncated IDX file: ${bytes.length} bytes, header needs ${header}`);
  const dims = Array.from({ length: nd }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header < size) {
    throw new DataError(file, `truncated IDX file: dimensions [${dims.join(', ')}] need ${size} data bytes, found ${bytes.length - header}`);
  }
  if (bytes.length - header > size) {
    throw new DataError(file, `IDX file has ${bytes.length - header - size} bytes beyond its dimensions [${dims.join(', ')}]`);
  }
  const data = sharedUint8(size);
  data.set(bytes.subarray(header, header + size));
  return { dims, data };
}

/** Writes an unsigned-byte IDX file (gzipped when `file` ends in .gz). */
export function writeIdx(file: string, dims: readonly number[], data: Uint8Array): void {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  writeFileSync(file, file.endsWith('.gz') ? gzipSync(raw) : raw);
}

/** An images + labels IDX pair as a data set of [1, H, W] images. */
export function loadIdxPair(name: string, imagesFile: string, labelsFile: string, classes: readonly string[]): Dataset {
  const images = readIdx(imagesFile, IDX_IMAGES_MAGIC);
  const labels = readIdx(labelsFile, IDX_LABELS_MAGIC);
  const [n, h, w] = images.dims as [number, number, number];
  if (n === 0 || h === 0 || w === 0) throw new DataError(imagesFile, `holds no images (dimensions [${images.dims.join(', ')}])`);
  if (labels.dims[0] !== n) {
    throw new DataError(labelsFile, `${labels.dims[0]} labels but ${imagesFile} holds ${n} images`);
  }
  const lab = Int32Array.from(labels.data);
  checkLabels(labelsFile, lab, classes.length);
  return new ArrayDataset(name, images.data, lab, [1, h, w], classes);
}

/** Finds `<root>/<stem>` as .gz, raw, or with the '.idx' dot spelling some mirrors use. */
export function findIdxFile(root: string, stem: string): string {
  const candidates = [`${stem}.gz`, stem, stem.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte'), `${stem.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte')}.gz`];
  for (const c of candidates) {
    const p = join(root, c);
    if (existsSync(p)) return p;
  }
  throw new DataError(join(root, `${stem}.gz`), `file not found (also looked for ${candidates.slice(1).join(', ')} in ${root})`);
}

export function loadIdxDataset(name: string, root: string, split: 'train' | 'test', classes: readonly string[]): Dataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = findIdxFile(root, `${prefix}-images-idx3-ubyte`);
  const labels = findIdxFile(root, `${prefix}-labels-idx1-ubyte`);
  return loadIdxPair(`${name}/${split}`, images, labels, classes);
}
