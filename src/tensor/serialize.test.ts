// safetensors files: bit-exact round trips for every dtype, a layout other
// tools can read (checked here by parsing the file by hand), and clear
// SerializationErrors for damaged files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Tensor, tensor, arange, saveTensors, loadTensors, decodeSafetensors, SerializationError, SlimnetError, tidy } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'slimnet-serialize-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The raw bytes of a tensor, as stored in memory. */
function bytesOf(t: Tensor): Buffer {
  const d = t.data();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

/** Parses a safetensors file by the format's definition, independently of serialize.ts. */
function parseByHand(file: Buffer): { headerLength: number; header: Record<string, any>; data: Buffer } {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, any>;
  return { headerLength, header, data: file.subarray(8 + headerLength) };
}

/** One tensor per dtype, with values that expose any conversion (NaN payloads, -0, extremes). */
function everyDtype(): Record<string, Tensor> {
  const nanPayload = new Float32Array(new Uint32Array([0x7fc00001, 0xff800000, 0x00000001, 0x80000000]).buffer); // NaN with payload, -inf, denormal, -0
  return {
    f32: tensor(nanPayload, [2, 2]),
    f64: tensor(new Float64Array([Math.PI, -0, Number.MAX_VALUE, 5e-324, NaN, -Infinity]), [3, 2]),
    f16: tensor(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001])), // 1, -2, max, smallest subnormal
    bf16: tensor(new Uint16Array([0x3f80, 0xc040, 0x7f7f]), [3], { dtype: 'bfloat16' }),
    i64: tensor(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n])),
    i32: tensor(new Int32Array([-2147483648, 2147483647, 12345]), [3, 1]),
    i16: tensor(new Int16Array([-32768, 32767])),
    i8: tensor(new Int8Array([-128, 127, 0])),
    u8: tensor(new Uint8Array([0, 255, 128]), [1, 3]),
    bool: tensor([true, false, true]),
    scalar: tensor(new Float32Array([2.5]), []),
    empty: tensor(new Float32Array(0), [0, 4]),
  };
}

const ST_DTYPE: Record<string, string> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

test('save/load round trip is bit-exact for every dtype, with metadata', () => {
  tidy(() => {
    const file = join(dir, 'all.safetensors');
    const tensors = everyDtype();
    const meta = { arch: 'resnet8', note: 'ünïcödé', empty: '' };
    saveTensors(file, tensors, meta);
    const loaded = loadTensors(file);
    assert.deepEqual(Object.keys(loaded.tensors).sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const back = loaded.tensors[name]!;
      assert.equal(back.dtype, t.dtype, name);
      assert.deepEqual(back.shape, t.shape, name);
      assert.ok(bytesOf(back).equals(bytesOf(t)), `${name}: bytes differ`);
    }
    // The checksum slimnet adds is not part of the user's metadata.
    assert.deepEqual(loaded.metadata, meta);
    // The write was atomic: no temporary file is left next to the target.
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.all')), []);
  });
});

test('the file is valid safetensors: LE length, JSON header, aligned, exact data offsets', () => {
  tidy(() => {
    const file = join(dir, 'layout.safetensors');
    const tensors = everyDtype();
    saveTensors(file, tensors, { epoch: '3' });
    const raw = readFileSync(file);
    const { headerLength, header, data } = parseByHand(raw);
    assert.equal((8 + headerLength) % 8, 0, 'data section starts 8-byte aligned');
    assert.equal(header.__metadata__.epoch, '3');
    for (const v of Object.values(header.__metadata__)) assert.equal(typeof v, 'string');
    assert.match(header.__metadata__['slimnet.sha256'], /^[0-9a-f]{64}$/);
    let covered = 0;
    for (const [name, t] of Object.entries(tensors)) {
      const entry = header[name];
      assert.ok(entry, `${name} in header`);
      assert.equal(entry.dtype, ST_DTYPE[t.dtype]);
      assert.deepEqual(entry.shape, t.shape);
      const [begin, end] = entry.data_offsets as [number, number];
      assert.ok(data.subarray(begin, end).equals(bytesOf(t)), `${name}: stored bytes`);
      covered += end - begin;
    }
    assert.equal(covered, data.byteLength, 'tensors cover the data section exactly');
    assert.equal(Object.keys(header).length, Object.keys(tensors).length + 1);
  });
});

test('loads a file written by another tool (built by hand, no checksum)', () => {
  tidy(() => {
    // Two tensors: a F32 [2] and a I64 [1], as the format specifies.
    const json = JSON.stringify({
      b: { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      __metadata__: { format: 'pt' },
    });
    const head = Buffer.from(json);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(head.byteLength));
    const data = Buffer.concat([Buffer.from(new Float32Array([1.5, -2]).buffer), Buffer.from(new BigInt64Array([7n]).buffer)]);
    const file = join(dir, 'foreign.safetensors');
    writeFileSync(file, Buffer.concat([len, head, data]));
    const { tensors, metadata } = loadTensors(file);
    assert.deepEqual(tensors.a!.toArray(), [1.5, -2]);
    assert.equal(tensors.b!.dtype, 'int64');
    assert.deepEqual(tensors.b!.toArray(), [7]);
    assert.deepEqual(metadata, { format: 'pt' });
  });
});

test('non-contiguous tensors are saved as their logical (row-major) values', () => {
  tidy(() => {
    const file = join(dir, 'transposed.safetensors');
    const t = arange(6).reshape(2, 3).T; // [[0,3],[1,4],[2,5]]
    saveTensors(file, { t });
    const back = loadTensors(file).tensors.t!;
    assert.deepEqual(back.shape, [3, 2]);
    assert.deepEqual(back.toArray(), [0, 3, 1, 4, 2, 5]);
  });
});

// ---- damaged files ---------------------------------------------------------------------

/** Writes a valid file and returns its bytes and path. */
function validFile(name: string): { path: string; raw: Buffer } {
  const path = join(dir, name);
  tidy(() => saveTensors(path, { w: arange(16), b: arange(4, undefined, 1, { dtype: 'int64' }) }));
  return { path, raw: readFileSync(path) };
}

/** Asserts loadTensors(path) throws a SerializationError naming the file and matching `re`. */
function failsWith(path: string, re: RegExp): void {
  assert.throws(
    () => loadTensors(path),
    (e: unknown) => {
      assert.ok(e instanceof SerializationError, `expected SerializationError, got ${String(e)}`);
      assert.ok(e instanceof SlimnetError);
      assert.equal(e.file, path);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, re);
      return true;
    },
  );
}

test('a truncated file names the file and says the data lies beyond the end', () => {
  const { path, raw } = validFile('truncated.safetensors');
  writeFileSync(path, raw.subarray(0, raw.byteLength - 5));
  failsWith(path, /beyond the end of the file.*truncated/);
  // Cut inside the header, and below the 8-byte length prefix.
  writeFileSync(path, raw.subarray(0, 20));
  failsWith(path, /header length \d+ exceeds the file size 20 \(truncated/);
  writeFileSync(path, raw.subarray(0, 5));
  failsWith(path, /too short/);
});

test('a garbage header length is rejected', () => {
  const { path, raw } = validFile('badlen.safetensors');
  const bad = Buffer.from(raw);
  bad.fill(0xff, 0, 8); // 2^64 - 1
  writeFileSync(path, bad);
  failsWith(path, /header length .* exceeds the file size/);
  // Text (or any other recognised kind) is named for what it is.
  writeFileSync(path, Buffer.from('this is not a safetensors file at all'));
  failsWith(path, /not a safetensors file: this is a text file/);
});

test('a file of another kind is named for what it is, not by its garbage header length', () => {
  const path = join(dir, 'other.safetensors');
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
  writeFileSync(path, png);
  failsWith(path, /not a safetensors file: this is a PNG image/);
  writeFileSync(path, Buffer.from('08081207736c696d6e65741a05302e31', 'hex'));
  failsWith(path, /not a safetensors file: this is an ONNX model/);
  writeFileSync(path, Buffer.alloc(0));
  failsWith(path, /this is an empty file/);
});

test('metadata values must be strings, and the checksum 64 hex digits: a number is an error naming the key, not a TypeError', () => {
  const write = (meta: unknown): string => {
    const head = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, __metadata__: meta }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(head.byteLength));
    const path = join(dir, 'meta-types.safetensors');
    writeFileSync(path, Buffer.concat([len, head, Buffer.alloc(4)]));
    return path;
  };
  failsWith(write({ 'slimnet.sha256': 5 }), /metadata 'slimnet\.sha256' must be a string, got the number 5/);
  failsWith(write({ 'slimnet.sha256': 'abc' }), /'slimnet\.sha256' must be the data's SHA-256 as 64 hex digits, got "abc"/);
  failsWith(write({ note: { a: 1 } }), /metadata 'note' must be a string, got an object/);
  failsWith(write([1, 2]), /'__metadata__' must be an object of strings, got an array/);
  failsWith(write(null), /'__metadata__' must be an object of strings, got null/);
  // Plain strings from another tool are fine.
  tidy(() => assert.deepEqual(loadTensors(write({ format: 'pt' })).metadata, { format: 'pt' }));
});

test('a directory or an unreadable path says why in words', () => {
  failsWith(dir, /cannot read: is a directory \(EISDIR\)/);
});

test('a header that is not valid JSON is rejected', () => {
  const { path, raw } = validFile('badjson.safetensors');
  const bad = Buffer.from(raw);
  bad.write('#', 8); // the opening '{' of the header
  writeFileSync(path, bad);
  failsWith(path, /not valid JSON/);
});

test('inconsistent headers are rejected: unknown dtype, wrong byte count, overlap', () => {
  const write = (header: object, dataBytes: number): string => {
    const head = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(head.byteLength));
    const path = join(dir, 'inconsistent.safetensors');
    writeFileSync(path, Buffer.concat([len, head, Buffer.alloc(dataBytes)]));
    return path;
  };
  failsWith(write({ x: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, 4), /tensor 'x': unknown dtype 'F33'/);
  // A name inherited by every JS object is not a dtype either.
  failsWith(write({ x: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }, 4), /unknown dtype 'constructor'/);
  failsWith(write({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12 bytes, offsets give 8/);
  failsWith(write({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /bad shape/);
  failsWith(
    write({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8),
    /overlap or hole/,
  );
  failsWith(write({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 12), /data section has 12 bytes but the tensors cover 4/);
});

test('a flipped byte in the data fails the checksum', () => {
  const { path, raw } = validFile('flipped.safetensors');
  const bad = Buffer.from(raw);
  bad[bad.byteLength - 3]! ^= 0x01;
  writeFileSync(path, bad);
  failsWith(path, /checksum mismatch.*corrupted/);
});

test('a missing file is a SerializationError naming it', () => {
  const path = join(dir, 'does-not-exist.safetensors');
  failsWith(path, /cannot read: .*ENOENT/);
});

test('decodeSafetensors names "<buffer>" when no file is given', () => {
  assert.throws(() => decodeSafetensors(new Uint8Array(3)), /^SerializationError: <buffer>: too short/);
});
