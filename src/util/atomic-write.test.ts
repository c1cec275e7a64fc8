// atomicWriteFile and ensureDir against what can be at a path: files,
// directories, devices, FIFOs, symbolic links, full and read-only file
// systems, and /proc, where Node's recursive mkdir spins forever. Devices and
// small file systems are made privately (mknod, mount) when running as root,
// so a regression cannot replace the machine's real /dev/full.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile } from './atomic-write.js';
import { ensureDir } from './ensure-dir.js';
import { FileSystemError } from './fs-errors.js';
import { SlimnetError } from './errors.js';
import { createVersionDir } from '../runs/files.js';

const dir = mkdtempSync(join(tmpdir(), 'slimnet-atomic-'));
const mounts: string[] = [];
after(() => {
  for (const m of mounts.reverse()) spawnSync('umount', [m]);
  rmSync(dir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const bytes = (s: string) => new TextEncoder().encode(s);
const leftovers = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp'));

function throwsFs(fn: () => void, file: string, reason: RegExp): FileSystemError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FileSystemError, `expected a FileSystemError, got ${String(caught)}`);
  assert.ok(caught instanceof SlimnetError);
  assert.ok(caught.message.includes(file), `'${caught.message}' should name ${file}`);
  assert.match(caught.message, reason);
  return caught;
}

/** A private tmpfs at a new folder (root only); undefined when mounting is not possible. */
function tmpfs(name: string, options: string): string | undefined {
  if (!isRoot) return undefined;
  const m = join(dir, name);
  mkdirSync(m);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', m]).status !== 0) return undefined;
  mounts.push(m);
  return m;
}

test('a regular file is written, its parents created, and no temporary file stays', () => {
  const p = join(dir, 'a', 'b', 'out.bin');
  atomicWriteFile(p, [bytes('hello '), bytes('world')]);
  assert.equal(readFileSync(p, 'utf8'), 'hello world');
  atomicWriteFile(p, bytes('again'));
  assert.equal(readFileSync(p, 'utf8'), 'again');
  assert.deepEqual(leftovers(join(dir, 'a', 'b')), []);
});

test('a directory target is refused before anything is written', () => {
  const d = join(dir, 'adir');
  mkdirSync(d);
  writeFileSync(join(d, 'keep.txt'), 'x');
  throwsFs(() => atomicWriteFile(d, bytes('x'.repeat(1000))), d, /is a directory/);
  assert.deepEqual(readdirSync(d), ['keep.txt']);
  assert.deepEqual(leftovers(dir), []);
});

test('character devices are written through, not replaced: /dev/null swallows, /dev/full reports no space', { skip: !isRoot && 'needs mknod (root)' }, () => {
  const nul = join(dir, 'null');
  const full = join(dir, 'full');
  assert.equal(spawnSync('mknod', [nul, 'c', '1', '3']).status, 0);
  assert.equal(spawnSync('mknod', [full, 'c', '1', '7']).status, 0);
  atomicWriteFile(nul, bytes('gone'));
  assert.ok(statSync(nul).isCharacterDevice(), 'the null device is still a device');
  throwsFs(() => atomicWriteFile(full, bytes('x'.repeat(100_000))), full, /no space left/);
  assert.ok(statSync(full).isCharacterDevice(), 'the full device is still a device');
  assert.deepEqual(leftovers(dir), []);
});

test('a FIFO with no reader is refused at once; with a reader the bytes go through it', async () => {
  const fifo = join(dir, 'pipe');
  if (spawnSync('mkfifo', [fifo]).status !== 0) return;
  throwsFs(() => atomicWriteFile(fifo, bytes('lost')), fifo, /no reader/);
  assert.ok(statSync(fifo).isFIFO());
  const cat = spawn('cat', [fifo]);
  let got = '';
  cat.stdout.on('data', (d: Buffer) => (got += d.toString()));
  const done = new Promise((r) => cat.on('close', r));
  // Wait until cat has the pipe open for reading.
  for (let i = 0; i < 100; i++) {
    try {
      atomicWriteFile(fifo, bytes('through the pipe'));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await done;
  assert.equal(got, 'through the pipe');
  assert.ok(statSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
});

test('symbolic links are followed: the target is replaced, the link stays; a dangling link creates its target', () => {
  const real = join(dir, 'real.txt');
  writeFileSync(real, 'old');
  const link = join(dir, 'link.txt');
  symlinkSync('real.txt', link);
  atomicWriteFile(link, bytes('new'));
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readlinkSync(link), 'real.txt');
  assert.equal(readFileSync(real, 'utf8'), 'new');
  const dangling = join(dir, 'dangling.txt');
  symlinkSync(join('made', 'target.txt'), dangling);
  atomicWriteFile(dangling, bytes('made'));
  assert.ok(lstatSync(dangling).isSymbolicLink());
  assert.equal(readFileSync(join(dir, 'made', 'target.txt'), 'utf8'), 'made');
  const loop = join(dir, 'loop');
  symlinkSync('loop', loop);
  throwsFs(() => atomicWriteFile(loop, bytes('x')), loop, /symbolic links/);
});

test('a full file system: no space left, the old file intact, no temporary file', (t) => {
  const m = tmpfs('small', 'size=64k');
  if (!m) return t.skip('needs mount (root)');
  const p = join(m, 'model.bin');
  atomicWriteFile(p, bytes('small'));
  throwsFs(() => atomicWriteFile(p, new Uint8Array(1 << 20)), p, /no space left/);
  assert.equal(readFileSync(p, 'utf8'), 'small');
  assert.deepEqual(leftovers(m), []);
});

test('a read-only file system says read-only, for files and for directories', (t) => {
  const m = tmpfs('ro', 'ro,size=64k');
  if (!m) return t.skip('needs mount (root)');
  throwsFs(() => atomicWriteFile(join(m, 'x.bin'), bytes('x')), join(m, 'x.bin'), /read-only file system/);
  throwsFs(() => atomicWriteFile(join(m, 'sub', 'x.bin'), bytes('x')), join(m, 'sub'), /read-only file system/);
  throwsFs(() => ensureDir(join(m, 'runs', 'train')), join(m, 'runs'), /read-only file system/);
  throwsFs(() => createVersionDir(join(m, 'runs', 'train')), join(m, 'runs'), /read-only file system/);
});

test('permission denied names the file and leaves nothing behind', (t) => {
  if (isRoot) {
    // Root ignores permissions: check in a child running as nobody.
    const d = join(dir, 'locked');
    mkdirSync(d);
    chmodSync(dir, 0o755);
    chmodSync(d, 0o555);
    const code = `import('${new URL('./atomic-write.ts', import.meta.url).href}').then((m) => { try { m.atomicWriteFile(${JSON.stringify(join(d, 'x.bin'))}, new Uint8Array(10)); console.log('wrote'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); } })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { uid: 65534, gid: 65534, encoding: 'utf8' });
    if (r.status !== 0 && /EACCES|Cannot find/.test(r.stderr)) return t.skip(`cannot run as nobody here: ${r.stderr.split('\n')[0]}`);
    assert.match(r.stdout, /FileSystemError: .*locked\/x\.bin: cannot write: permission denied/, r.stdout + r.stderr);
    assert.deepEqual(readdirSync(d), []);
    return;
  }
  const d = join(dir, 'locked');
  mkdirSync(d);
  chmodSync(d, 0o555);
  throwsFs(() => atomicWriteFile(join(d, 'x.bin'), bytes('x')), join(d, 'x.bin'), /permission denied/);
  assert.deepEqual(readdirSync(d), []);
});

test('ensureDir: existing, nested, a file in the way', () => {
  const p = join(dir, 'e', 'f', 'g');
  assert.equal(ensureDir(p), p);
  assert.ok(statSync(p).isDirectory());
  assert.equal(ensureDir(p), p);
  writeFileSync(join(dir, 'plain'), 'x');
  throwsFs(() => ensureDir(join(dir, 'plain', 'sub')), join(dir, 'plain'), /not a directory/);
  throwsFs(() => atomicWriteFile(join(dir, 'plain', 'sub', 'x.bin'), bytes('x')), join(dir, 'plain'), /not a directory/);
});

test('/proc refuses new directories: an error at once, not a loop (checked in a child with a deadline)', () => {
  const code = `Promise.all([import('${new URL('./ensure-dir.ts', import.meta.url).href}'), import('${new URL('../runs/files.ts', import.meta.url).href}')]).then(([d, f]) => {
    for (const fn of [() => d.ensureDir('/proc/slimnet-x/runs'), () => f.createVersionDir('/proc/slimnet-x/runs/train/a-b')]) {
      try { fn(); console.log('created?'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }
    }
  })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(r.signal, 'SIGTERM', 'ensureDir hung on /proc');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2, r.stdout + r.stderr);
  for (const l of lines) assert.match(l, /^FileSystemError: \/proc\/slimnet-x: cannot create the directory: \/proc is on a file system that does not allow new directories/);
});
