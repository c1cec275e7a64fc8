// What a file is, from its first bytes: so that a loader handed the wrong
// file can say "this is an ONNX model" or "this is a PNG image" instead of
// "header length 7883951863984425000 exceeds the file size". Only formats a
// slimnet user plausibly confuses with each other are recognised; anything
// else is undefined and the loader's own message stands.

export type FileKind =
  | 'safetensors'
  | 'onnx'
  | 'png'
  | 'jpeg'
  | 'gif'
  | 'webp'
  | 'gzip'
  | 'zip'
  | 'pickle'
  | 'npy'
  | 'hdf5'
  | 'idx'
  | 'json'
  | 'text'
  | 'empty';

/** A file kind and how to name it in a sentence ("an ONNX model"). */
export interface IdentifiedFile {
  kind: FileKind;
  description: string;
}

const DESCRIPTIONS: Readonly<Record<FileKind, string>> = {
  safetensors: 'a safetensors file',
  onnx: 'an ONNX model',
  png: 'a PNG image',
  jpeg: 'a JPEG image',
  gif: 'a GIF image',
  webp: 'a WebP image',
  gzip: 'a gzip-compressed file',
  zip: 'a zip archive (a PyTorch .pt / .pth file?)',
  pickle: 'a Python pickle (a PyTorch .pt / .pth file?)',
  npy: 'a NumPy .npy array',
  hdf5: 'an HDF5 file (a Keras .h5 model?)',
  idx: 'an IDX data file (the MNIST format)',
  json: 'a JSON text file',
  text: 'a text file',
  empty: 'an empty file',
};

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean => b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);

/** The header length of a safetensors file is plausible and its JSON header starts with '{'. */
export function looksLikeSafetensors(b: Uint8Array): boolean {
  if (b.length < 10) return false;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = view.getBigUint64(0, true);
  return n >= 2n && n <= BigInt(b.length - 8) && b[8] === 0x7b;
}

/** A protobuf varint at `at`: [value, next offset], or undefined. */
function varint(b: Uint8Array, at: number): [number, number] | undefined {
  let v = 0;
  for (let i = 0; i < 10 && at + i < b.length; i++) {
    const byte = b[at + i]!;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if (!(byte & 0x80)) return [v, at + i + 1];
  }
  return undefined;
}

// Tags of ModelProto's fields: producer_name (2), producer_version (3),
// domain (4), model_version (5), doc_string (6), graph (7), opset_import (8),
// metadata_props (14).
const ONNX_NEXT_TAGS = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);

/** An ONNX ModelProto begins with ir_version (field 1, a small varint) and then another ModelProto field. */
function looksLikeOnnx(b: Uint8Array): boolean {
  if (b[0] !== 0x08) return false;
  const v = varint(b, 1);
  if (!v || v[0] < 1 || v[0] > 100) return false;
  return ONNX_NEXT_TAGS.has(b[v[1]]!);
}

function looksLikeText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 512);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c === 0x7f) return false;
  }
  return true;
}

/** The kind of a file from its bytes (and, for ONNX, its name), or undefined when not recognised. */
export function identifyFile(b: Uint8Array, name = ''): IdentifiedFile | undefined {
  const kind = ((): FileKind | undefined => {
    if (b.length === 0) return 'empty';
    if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
    if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
    if (startsWith(b, [0x47, 0x49, 0x46, 0x38])) return 'gif';
    if (startsWith(b, [0x52, 0x49, 0x46, 0x46]) && startsWith(b, [0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
    if (startsWith(b, [0x1f, 0x8b])) return 'gzip';
    if (startsWith(b, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
    if (startsWith(b, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return 'npy';
    if (startsWith(b, [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])) return 'hdf5';
    if (b[0] === 0x80 && b.length > 1 && b[1]! >= 2 && b[1]! <= 5) return 'pickle';
    if (looksLikeSafetensors(b)) return 'safetensors';
    if (looksLikeOnnx(b) || (/\.onnx$/i.test(name) && b[0] === 0x08)) return 'onnx';
    if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0x08 && b[3]! >= 1 && b[3]! <= 4) return 'idx';
    if (looksLikeText(b)) {
      const head = new TextDecoder().decode(b.subarray(0, 64)).trimStart();
      return head.startsWith('{') || head.startsWith('[') ? 'json' : 'text';
    }
    return undefined;
  })();
  return kind === undefined ? undefined : { kind, description: DESCRIPTIONS[kind] };
}
