// Tensors to and from safetensors files (the format Hugging Face and PyTorch
// tooling read). Loading validates the whole layout and a SHA-256 of the data
// that slimnet stores in the metadata, so truncated or corrupted files fail
// with a message naming the file and the problem.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { SerializationError } from './errors.js';
import { bytesPerElement, type DType } from './dtype.js';
import { atomicWriteFile } from '../util/atomic-write.js';
import { describeFsError } from '../util/fs-errors.js';
import { identifyFile } from '../util/file-kind.js';

const TO_ST: Record<DType, string> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16',
  int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));
const CHECKSUM_KEY = 'slimnet.sha256';
const MAX_HEADER = 100 * 1024 * 1024;

export type Metadata = Record<string, string>;

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Encodes named tensors as one safetensors buffer. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Metadata = {}): Uint8Array[] {
  const names = Object.keys(tensors).sort();
  const header: Record<string, Entry | Metadata> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = new Uint8Array(native.toArray(t.handle));
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  const hash = createHash('sha256');
  for (const b of blobs) hash.update(b);
  header['__metadata__'] = { ...metadata, [CHECKSUM_KEY]: hash.digest('hex') };
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.byteLength));
  return [len, head, ...blobs];
}

export function saveTensors(path: string, tensors: Record<string, Tensor>, metadata: Metadata = {}): void {
  atomicWriteFile(path, encodeSafetensors(tensors, metadata));
}

export interface LoadedTensors {
  tensors: Record<string, Tensor>;
  metadata: Metadata;
}

/** Decodes a safetensors buffer; `file` names it in errors. */
export function decodeSafetensors(buf: Uint8Array, file = '<buffer>'): LoadedTensors {
  const fail = (msg: string): never => {
    throw new SerializationError(file, msg);
  };
  // A file that is something else altogether (an ONNX model, an image) says so.
  const notSafetensors = (msg: string): never => {
    const other = identifyFile(buf, file);
    if (other && other.kind !== 'safetensors') fail(`not a safetensors file: this is ${other.description}`);
    return fail(msg);
  };
  if (buf.byteLength < 8) notSafetensors(`too short for a safetensors file (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > buf.byteLength) {
    notSafetensors(`header length ${headerLen} exceeds the file size ${buf.byteLength} (truncated or not a safetensors file)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    return notSafetensors(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) notSafetensors('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const metadata = readMetadata(header['__metadata__'], fail);
  const entries: [string, Entry][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = raw as Entry;
    if (!e || typeof e !== 'object') fail(`tensor '${name}': entry is not an object`);
    if (!Object.hasOwn(FROM_ST, e.dtype)) fail(`tensor '${name}': unknown dtype '${String(e.dtype)}'`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}': bad shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
      fail(`tensor '${name}': bad data_offsets ${JSON.stringify(offs)}`);
    }
    const need = e.shape.reduce((a, b) => a * b, 1) * bytesPerElement(FROM_ST[e.dtype]!);
    if (offs[1] - offs[0] !== need) fail(`tensor '${name}': shape [${e.shape.join(', ')}] ${e.dtype} needs ${need} bytes, offsets give ${offs[1] - offs[0]}`);
    if (offs[1] > dataLen) fail(`tensor '${name}': data [${offs[0]}, ${offs[1]}) lies beyond the end of the file (data section has ${dataLen} bytes; truncated?)`);
    entries.push([name, e]);
  }
  // The format requires the data section to be covered exactly, without overlaps or holes.
  const sorted = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let cursor = 0;
  for (const [name, e] of sorted) {
    if (e.data_offsets[0] !== cursor) fail(`tensor '${name}': data starts at ${e.data_offsets[0]}, expected ${cursor} (overlap or hole)`);
    cursor = e.data_offsets[1];
  }
  if (cursor !== dataLen) fail(`data section has ${dataLen} bytes but the tensors cover ${cursor}`);
  const data = buf.subarray(dataStart);
  const expected = metadata[CHECKSUM_KEY];
  if (expected !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(expected)) fail(`metadata '${CHECKSUM_KEY}' must be the data's SHA-256 as 64 hex digits, got ${JSON.stringify(expected).slice(0, 80)}`);
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== expected) fail(`data checksum mismatch (stored ${expected.slice(0, 12)}…, computed ${actual.slice(0, 12)}…): the file is corrupted`);
  }
  // A null-prototype object: a tensor named '__proto__' stays an ordinary key.
  const tensors: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>;
  for (const [name, e] of entries) {
    const bytes = data.subarray(e.data_offsets[0], e.data_offsets[1]);
    tensors[name] = new Tensor(native.fromArray(bytes, e.shape, FROM_ST[e.dtype]!));
  }
  const { [CHECKSUM_KEY]: _checksum, ...userMeta } = metadata;
  return { tensors, metadata: userMeta };
}

/** The safetensors `__metadata__`: absent, or an object of string values (the format says so; slimnet relies on it). */
function readMetadata(raw: unknown, fail: (msg: string) => never): Metadata {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail(`'__metadata__' must be an object of strings, got ${describeJson(raw)}`);
  const out: Metadata = Object.create(null) as Metadata;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') fail(`metadata '${k}' must be a string, got ${describeJson(v)}`);
    out[k] = v as string;
  }
  return out;
}

/** A JSON value named for a message: 'the number 5', 'an array', 'null'. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return `the boolean ${v}`;
    case 'string':
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/** The bytes of a tensor file; a SerializationError naming it when it cannot be read. */
export function readTensorFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SerializationError(path, `cannot read: ${describeFsError(e)}`, { cause: e });
  }
}

export function loadTensors(path: string): LoadedTensors {
  return decodeSafetensors(readTensorFile(path), path);
}
