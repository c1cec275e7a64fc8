// Creating a directory and its parents without Node's recursive mkdir.
//
// `mkdirSync(p, { recursive: true })` loops forever (100 % CPU) when mkdir
// answers ENOENT although the parent exists, which is what /proc and some
// other special file systems do: Node then "creates the parent" (EEXIST, fine)
// and retries the child, forever. On a read-only file system it reports the
// ENOENT of the deepest missing directory instead of EROFS. So this walks the
// path itself, from the root down, one mkdir per missing component: it ends
// after at most one step per component, and each failure names the directory
// and the reason in words.
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, parse, resolve, sep } from 'node:path';
import { FileSystemError, describeFsError, errnoCode, fsError } from './fs-errors.js';

/** stat, or undefined when nothing is there; other failures (EACCES, ELOOP, ...) throw. */
function statOrNothing(path: string, doing: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw fsError(path, doing, e);
  }
}

/**
 * Makes sure `path` is a directory, creating it and any missing parents.
 * Returns the absolute path. Throws a FileSystemError naming the directory
 * that could not be created (read-only file system, permission denied, a
 * file in the way, a file system that refuses new directories).
 */
export function ensureDir(path: string): string {
  const target = resolve(path);
  const doing = 'cannot create the directory';
  const existing = statOrNothing(target, doing);
  if (existing) {
    if (!existing.isDirectory()) throw new FileSystemError(target, `${doing}: a file that is not a directory is in the way`, 'ENOTDIR');
    return target;
  }
  const { root } = parse(target);
  const parts = target.slice(root.length).split(sep).filter((p) => p.length > 0);
  let cur = root;
  for (const part of parts) {
    cur = cur === root ? root + part : cur + sep + part;
    const st = statOrNothing(cur, doing);
    if (st) {
      if (!st.isDirectory()) throw new FileSystemError(cur, `${doing} ${target}: this is a file, not a directory`, 'ENOTDIR');
      continue;
    }
    try {
      mkdirSync(cur);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST') {
        // Another process made it between our stat and mkdir: fine if it is a directory.
        const again = statOrNothing(cur, doing);
        if (again?.isDirectory()) continue;
        throw new FileSystemError(cur, `${doing}: a file that is not a directory is in the way`, 'ENOTDIR', { cause: e });
      }
      if (code === 'ENOENT') {
        // The parent exists (we just walked through it), yet mkdir says ENOENT:
        // a special file system such as /proc or /sys, which allows no new entries.
        throw new FileSystemError(cur, `${doing}: ${dirname(cur)} is on a file system that does not allow new directories (such as /proc or /sys)`, code, { cause: e });
      }
      throw new FileSystemError(cur, `${doing}: ${describeFsError(e)}`, code, { cause: e });
    }
  }
  return target;
}
