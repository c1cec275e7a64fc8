// Writes that never leave a half-written file behind: write a temporary file
// in the same directory, fsync it, then rename it over the target.
//
// What is at the target decides what happens, before anything is written:
// - nothing, or a regular file: the atomic write above (parent directories
//   are created as needed, see ensure-dir.ts);
// - a symbolic link: followed, deliberately. The file it points to is
//   replaced atomically and the link stays a link (`latest.onnx ->
//   version_3/model.onnx` keeps working); a dangling link creates its target.
//   Links are resolved in the link's own directory, up to 40 levels.
// - a character device or a FIFO: written through, without a temporary file
//   (renaming over /dev/null would replace the system's /dev/null). Errors of
//   the device are reported: /dev/full says "no space left on the device". A
//   FIFO with no reader is refused instead of blocking forever.
// - a directory, a block device (a disk) or a socket: refused with an error
//   naming the path.
// Every failure is a FileSystemError (a SlimnetError) naming the target and
// the reason in words (read-only file system, no space left on the device,
// permission denied, is a directory), and no temporary file is left behind.
import { closeSync, constants, fsyncSync, lstatSync, openSync, readlinkSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ensureDir } from './ensure-dir.js';
import { FileSystemError, errnoCode, fsError } from './fs-errors.js';

const MAX_LINKS = 40;
let tmpCounter = 0;

type Chunks = Uint8Array | readonly Uint8Array[];

function listOf(chunks: Chunks): readonly Uint8Array[] {
  return chunks instanceof Uint8Array ? [chunks] : chunks;
}

function writeAll(fd: number, chunks: Chunks): void {
  for (const c of listOf(chunks)) {
    let off = 0;
    while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
  }
}

/** stat following links; undefined when the final target does not exist (or a link dangles). */
function statTarget(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw fsError(path, 'cannot write', e);
  }
}

/** Where a dangling link (or a plain missing path) leads: the path to create. */
function followDangling(path: string): string {
  let p = resolve(path);
  for (let i = 0; i < MAX_LINKS; i++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return p;
      throw fsError(path, 'cannot write', e);
    }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new FileSystemError(path, 'cannot write: too many levels of symbolic links (ELOOP)', 'ELOOP');
}

/** Writes straight into a character device or a FIFO (no temporary file, no rename). */
function writeThrough(path: string, st: Stats, chunks: Chunks): void {
  let probe: number | undefined;
  if (st.isFIFO()) {
    // A blocking open of a FIFO waits for a reader forever; a non-blocking one fails at once without.
    try {
      probe = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if (errnoCode(e) === 'ENXIO') throw new FileSystemError(path, 'cannot write: a named pipe (FIFO) with no reader', 'ENXIO', { cause: e });
      throw fsError(path, 'cannot write', e);
    }
  }
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY);
    writeAll(fd, chunks);
  } catch (e) {
    throw fsError(path, 'cannot write', e);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (probe !== undefined) closeSync(probe);
  }
}

/** Temp file + fsync + rename into `target` (a regular file or nothing); removes the temp file on any failure. */
function replaceFile(path: string, target: string, chunks: Chunks): void {
  const dir = dirname(target);
  try {
    ensureDir(dir);
  } catch (e) {
    throw e instanceof FileSystemError ? new FileSystemError(path, `cannot write: ${e.message}`, e.code, { cause: e }) : e;
  }
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${Date.now()}.${tmpCounter++}.tmp`);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx');
    created = true;
    writeAll(fd, chunks);
    fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    renameSync(tmp, target);
    created = false;
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing: the first error is the one to report.
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // Nothing more can be done; the original error says why.
      }
    }
    // Renaming onto something that became a directory meanwhile reads EISDIR, like the check below.
    throw fsError(path, 'cannot write', e);
  }
}

/**
 * Writes `chunks` to `path` atomically (see the top of this file for
 * devices, FIFOs, symbolic links and directories). Throws a FileSystemError
 * naming `path` and the reason.
 */
export function atomicWriteFile(path: string, chunks: Chunks): void {
  const st = statTarget(path);
  if (st === undefined) return replaceFile(path, followDangling(path), chunks);
  if (st.isDirectory()) throw new FileSystemError(path, 'cannot write: is a directory (give a file name inside it)', 'EISDIR');
  if (st.isFile()) {
    let real: string;
    try {
      real = realpathSync.native(path);
    } catch (e) {
      throw fsError(path, 'cannot write', e);
    }
    return replaceFile(path, real, chunks);
  }
  if (st.isCharacterDevice() || st.isFIFO()) return writeThrough(path, st, chunks);
  if (st.isBlockDevice()) throw new FileSystemError(path, 'cannot write: is a block device (a disk); slimnet writes only to files', 'EINVAL');
  throw new FileSystemError(path, 'cannot write: is a socket or another special file, not a regular file', 'EINVAL');
}
