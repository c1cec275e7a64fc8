// Seeded mutations of valid files: byte-level (truncation, bit flips,
// interesting bytes, insertions, deletions, junk), JSON-level (type swaps,
// deletions, numeric edge values, deep nesting) and the structure-aware edits
// each format needs to get past its outer checks (safetensors headers with a
// correct length and checksum, PNG chunks with a correct CRC, IDX dimensions,
// JPEG frame sizes). Everything is a pure function of the random stream, so a
// case is reproduced from (seed, format, index) alone.
import { createHash } from 'node:crypto';
import { mulberry32 } from '../util/rng.js';

export type Rng = () => number;

export function rngFor(...parts: number[]): Rng {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  }
  return mulberry32(h);
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
export const chance = (r: Rng, p: number): boolean => r() < p;

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x20, 0x7b, 0x7d, 0x22];

// ---- bytes ---------------------------------------------------------------------------------

export function truncate(r: Rng, b: Uint8Array): Uint8Array {
  // Favour cuts near the start (headers) and near the end (last record).
  const at = chance(r, 0.4) ? int(r, Math.min(b.length, 64)) : chance(r, 0.5) ? Math.max(0, b.length - 1 - int(r, 16)) : int(r, b.length);
  return b.slice(0, at);
}

export function flipBits(r: Rng, b: Uint8Array, count = 1 + int(r, 8)): Uint8Array {
  const out = b.slice();
  if (!out.length) return out;
  for (let i = 0; i < count; i++) {
    const at = chance(r, 0.5) ? int(r, Math.min(out.length, 96)) : int(r, out.length);
    out[at]! ^= 1 << int(r, 8);
  }
  return out;
}

export function setBytes(r: Rng, b: Uint8Array, count = 1 + int(r, 4)): Uint8Array {
  const out = b.slice();
  if (!out.length) return out;
  for (let i = 0; i < count; i++) out[int(r, out.length)] = chance(r, 0.7) ? pick(r, INTERESTING_BYTES) : int(r, 256);
  return out;
}

export function insertBytes(r: Rng, b: Uint8Array): Uint8Array {
  const at = int(r, b.length + 1);
  const junk = randomBytes(r, 1 + int(r, chance(r, 0.8) ? 8 : 4096));
  return concat([b.subarray(0, at), junk, b.subarray(at)]);
}

export function deleteBytes(r: Rng, b: Uint8Array): Uint8Array {
  if (!b.length) return b;
  const at = int(r, b.length);
  const n = 1 + int(r, Math.min(64, b.length - at));
  return concat([b.subarray(0, at), b.subarray(at + n)]);
}

export function appendJunk(r: Rng, b: Uint8Array): Uint8Array {
  return concat([b, randomBytes(r, 1 + int(r, 256))]);
}

export function randomBytes(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(r, 256);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One generic byte-level mutation (the fallback every format shares). */
export function mutateBytes(r: Rng, b: Uint8Array): { bytes: Uint8Array; how: string } {
  const ops: [string, (r: Rng, b: Uint8Array) => Uint8Array][] = [
    ['truncate', truncate],
    ['bit flips', (rr, bb) => flipBits(rr, bb)],
    ['byte edits', (rr, bb) => setBytes(rr, bb)],
    ['insert', insertBytes],
    ['delete', deleteBytes],
    ['append junk', appendJunk],
  ];
  const [how, op] = pick(r, ops);
  return { bytes: op(r, b), how };
}

// ---- JSON ----------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function deepNest(depth: number, leaf: Json): Json {
  let v: Json = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** A value of some JSON type, biased toward edge cases. */
export function oddValue(r: Rng, like?: Json): Json {
  const numeric: Json[] = [0, -1, 1, -0.5, 2.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, 4294967296, 1e-320, 65535];
  const others: Json[] = [null, true, false, '', 'x', 'NaN', '-1', '1e9', '__proto__', 'constructor', 'a'.repeat(5000), [], {}, [1, 2, 3], { a: 1 }, ['x'], [[]], { __proto__: 1 } as unknown as Json];
  if (typeof like === 'number' && chance(r, 0.6)) {
    return pick(r, [like + 1, like - 1, -like, like * 1000, like / 3, 0, pick(r, numeric)]);
  }
  if (chance(r, 0.03)) return deepNest(200 + int(r, 2000), 0);
  return chance(r, 0.4) ? pick(r, numeric) : pick(r, others);
}

interface Slot {
  parent: Json[] | { [k: string]: Json };
  key: string | number;
}

function slots(v: Json, out: Slot[] = [], depth = 0): Slot[] {
  if (depth > 50 || v === null || typeof v !== 'object') return out;
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ parent: v, key: i });
      slots(x, out, depth + 1);
    });
  } else {
    for (const k of Object.keys(v)) {
      out.push({ parent: v, key: k });
      slots(v[k]!, out, depth + 1);
    }
  }
  return out;
}

/** Edits `count` random places of a JSON value in place (it is a parsed copy); returns it (or a replacement root). */
export function mutateJson(r: Rng, root: Json, count = 1 + int(r, 3)): Json {
  for (let n = 0; n < count; n++) {
    const all = slots(root);
    if (!all.length || chance(r, 0.02)) return oddValue(r, root);
    const s = pick(r, all);
    const p = s.parent as Record<string | number, Json>;
    const cur = p[s.key]!;
    const op = int(r, 10);
    if (op === 0) {
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete p[s.key];
    } else if (op === 1 && Array.isArray(s.parent)) {
      s.parent.splice(s.key as number, 0, structuredClone(cur));
    } else if (op === 2 && !Array.isArray(s.parent)) {
      p[pick(r, ['extra', '__proto__', 'constructor', 'name', 'kind', 'shape', ''])] = oddValue(r);
    } else if (op === 3 && Array.isArray(cur)) {
      cur.reverse();
    } else {
      p[s.key] = oddValue(r, cur);
    }
  }
  return root;
}

// ---- safetensors ---------------------------------------------------------------------------

export interface Safetensors {
  header: Record<string, Json>;
  data: Uint8Array;
}

export function parseSafetensors(b: Uint8Array): Safetensors {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = Number(view.getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))) as Record<string, Json>, data: b.slice(8 + n) };
}

/** Writes a safetensors file; the checksum is recomputed when `fixChecksum` (so data edits reach deeper checks). */
export function buildSafetensors(s: Safetensors, o: { fixChecksum?: boolean; lengthLie?: bigint } = {}): Uint8Array {
  const header = s.header;
  const meta = header !== null && typeof header === 'object' ? header.__metadata__ : undefined;
  if (o.fixChecksum && meta && typeof meta === 'object' && !Array.isArray(meta) && typeof meta['slimnet.sha256'] === 'string') {
    meta['slimnet.sha256'] = createHash('sha256').update(s.data).digest('hex');
  }
  const head = new TextEncoder().encode(JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, o.lengthLie ?? BigInt(head.length), true);
  return concat([len, head, s.data]);
}

/**
 * One safetensors-aware mutation of `b`: the header's tensor entries, the
 * metadata (type swaps, the JSON inside a metadata string), the data with a
 * recomputed checksum, or the length prefix.
 */
export function mutateSafetensors(r: Rng, b: Uint8Array, jsonKeys: readonly string[]): { bytes: Uint8Array; how: string } {
  const s = parseSafetensors(b);
  const meta = s.header.__metadata__ as Record<string, Json>;
  switch (int(r, 7)) {
    case 0: {
      const lie = pick(r, [0n, 1n, 7n, 2n ** 63n, 2n ** 64n - 1n, BigInt(b.length), BigInt(b.length - 9), BigInt(int(r, 1 << 30))]);
      return { bytes: buildSafetensors(s, { lengthLie: lie }), how: 'header length lie' };
    }
    case 1: {
      const names = Object.keys(s.header).filter((k) => k !== '__metadata__');
      const name = pick(r, names);
      s.header[name] = mutateJson(r, s.header[name]!);
      return { bytes: buildSafetensors(s), how: `tensor entry '${name}' edit` };
    }
    case 2: {
      const key = pick(r, Object.keys(meta));
      if (chance(r, 0.3)) delete meta[key];
      else meta[key] = oddValue(r, meta[key]);
      return { bytes: buildSafetensors(s, { fixChecksum: chance(r, 0.5) }), how: `metadata '${key}' type swap` };
    }
    case 3:
    case 4: {
      const key = pick(r, jsonKeys.filter((k) => typeof meta[k] === 'string'));
      let inner: Json;
      try {
        inner = JSON.parse(meta[key] as string) as Json;
      } catch {
        inner = null;
      }
      const focused = key === 'slimnet.graph' && chance(r, 0.6) && mutateGraphNode(r, inner);
      meta[key] = JSON.stringify(focused ? inner : mutateJson(r, inner, 1 + int(r, 4)));
      return { bytes: buildSafetensors(s, { fixChecksum: true }), how: focused ? `graph node edit: ${focused}` : `metadata '${key}' JSON edit` };
    }
    case 5: {
      s.data = chance(r, 0.5) ? flipBits(r, s.data) : setBytes(r, s.data);
      return { bytes: buildSafetensors(s, { fixChecksum: true }), how: 'data edit with a valid checksum' };
    }
    default: {
      s.header = mutateJson(r, s.header as Json) as Record<string, Json>;
      return { bytes: buildSafetensors(s, { fixChecksum: chance(r, 0.5) }), how: 'header edit' };
    }
  }
}

/**
 * A graph-aware edit (a node's kind, inputs or one attribute), so that most
 * graph edits get past the node-structure checks to the kinds' own checks.
 * Returns what was done, or '' when the graph has no nodes to edit.
 */
export function mutateGraphNode(r: Rng, graph: Json): string {
  const nodes = graph !== null && typeof graph === 'object' && !Array.isArray(graph) ? graph.nodes : undefined;
  if (!Array.isArray(nodes) || !nodes.length) return '';
  const node = pick(r, nodes);
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return '';
  const names = nodes.map((n) => (n !== null && typeof n === 'object' && !Array.isArray(n) ? n.name : null)).filter((n): n is string => typeof n === 'string');
  const kinds = ['conv2d', 'linear', 'batchnorm2d', 'batchnorm1d', 'relu', 'add', 'concat', 'flatten', 'maxpool2d', 'avgpool2d', 'global_avg_pool', 'reshape', 'softmax', 'input', 'identity', 'dropout', 'nope'];
  const u = r();
  if (u < 0.15) {
    node.kind = pick(r, kinds);
    return `kind of '${String(node.name)}' -> ${String(node.kind)}`;
  }
  if (u < 0.3) {
    node.inputs = pick(r, [[], [String(node.name)], [pick(r, names)], [pick(r, names), pick(r, names)], ['missing'], names]);
    return `inputs of '${String(node.name)}'`;
  }
  const attrs = node.attrs;
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) return '';
  const keys = Object.keys(attrs);
  const key = keys.length && chance(r, 0.85) ? pick(r, keys) : pick(r, ['shape', 'outChannels', 'kernel', 'stride', 'padding', 'groups', 'axis', 'p', 'eps', 'bias']);
  const cur = attrs[key];
  attrs[key] = Array.isArray(cur) && cur.length && chance(r, 0.6) ? cur.map((v) => (chance(r, 0.5) ? oddValue(r, v) : v)) : oddValue(r, cur);
  return `attr '${key}' of '${String(node.name)}'`;
}

// ---- PNG / JPEG ----------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

function pngChunks(b: Uint8Array): Chunk[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Chunk[] = [];
  for (let o = 8; o + 12 <= b.length; ) {
    const len = view.getUint32(o);
    out.push({ type: new TextDecoder().decode(b.subarray(o + 4, o + 8)), data: b.slice(o + 8, o + 8 + len) });
    o += 12 + len;
  }
  return out;
}

function pngBuild(chunks: readonly Chunk[], lie?: { index: number; length: number }): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];
  chunks.forEach((c, i) => {
    const head = new Uint8Array(8);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, lie && lie.index === i ? lie.length : c.data.length);
    head.set(new TextEncoder().encode(c.type.padEnd(4, ' ').slice(0, 4)), 4);
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, crc32(concat([head.subarray(4), c.data])));
    parts.push(head, c.data, crc);
  });
  return concat(parts);
}

/** PNG edits with valid CRCs: IHDR fields (size lies, depth, colour type), chunk data, order, lengths. */
export function mutatePng(r: Rng, b: Uint8Array): { bytes: Uint8Array; how: string } {
  const chunks = pngChunks(b);
  const ihdr = chunks.find((c) => c.type === 'IHDR');
  switch (int(r, 5)) {
    case 0:
    case 1: {
      if (!ihdr) break;
      const dv = new DataView(ihdr.data.buffer, ihdr.data.byteOffset, ihdr.data.byteLength);
      const field = int(r, 5);
      if (field === 0) dv.setUint32(0, pick(r, [0, 1, 65535, 100000, 0x7fffffff, 0xffffffff, int(r, 1 << 20)]));
      else if (field === 1) dv.setUint32(4, pick(r, [0, 1, 65535, 100000, 0x7fffffff, 0xffffffff, int(r, 1 << 20)]));
      else ihdr.data[8 + int(r, 5)] = pick(r, [0, 1, 2, 3, 4, 6, 7, 8, 16, 255]);
      return { bytes: pngBuild(chunks), how: 'IHDR edit (valid CRC)' };
    }
    case 2: {
      const c = pick(r, chunks);
      c.data = chance(r, 0.5) ? flipBits(r, c.data) : truncate(r, c.data);
      return { bytes: pngBuild(chunks), how: `${c.type} data edit (valid CRC)` };
    }
    case 3: {
      const i = int(r, chunks.length);
      return { bytes: pngBuild(chunks, { index: i, length: pick(r, [0, 1, 0x7fffffff, 0xffffffff, chunks[i]!.data.length + 1 + int(r, 100)]) }), how: 'chunk length lie' };
    }
    default: {
      const i = int(r, chunks.length);
      const j = int(r, chunks.length);
      [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
      if (chance(r, 0.5)) chunks.splice(int(r, chunks.length), 1);
      return { bytes: pngBuild(chunks), how: 'chunk order / removal' };
    }
  }
  return mutateBytes(r, b);
}

/** JPEG edits: the frame header's height, width, components and precision; segment length lies. */
export function mutateJpeg(r: Rng, b: Uint8Array): { bytes: Uint8Array; how: string } {
  const out = b.slice();
  const dv = new DataView(out.buffer);
  const segments: number[] = [];
  let sof = -1;
  for (let o = 2; o + 4 <= out.length && out[o] === 0xff; ) {
    const marker = out[o + 1]!;
    if (marker === 0xda) break;
    segments.push(o);
    if (marker === 0xc0 || marker === 0xc2) sof = o;
    o += 2 + dv.getUint16(o + 2);
  }
  if (sof >= 0 && chance(r, 0.6)) {
    const field = int(r, 4);
    if (field === 0) dv.setUint16(sof + 5, pick(r, [0, 1, 65535, 16384, int(r, 65536)]));
    else if (field === 1) dv.setUint16(sof + 7, pick(r, [0, 1, 65535, 16384, int(r, 65536)]));
    else if (field === 2) out[sof + 9] = pick(r, [0, 1, 2, 4, 255]);
    else out[sof + 4] = pick(r, [0, 1, 12, 16, 255]);
    return { bytes: out, how: 'frame header edit' };
  }
  if (segments.length && chance(r, 0.5)) {
    const o = pick(r, segments);
    dv.setUint16(o + 2, pick(r, [0, 1, 2, 65535, dv.getUint16(o + 2) + 1 + int(r, 50)]));
    return { bytes: out, how: 'segment length lie' };
  }
  return mutateBytes(r, b);
}
