// File-system failures as errors for people: the path, what slimnet was
// doing, and the system's reason in words ("read-only file system", not
// "EROFS: ..."). Node's own messages name the syscall and sometimes a
// temporary file; a user needs the file they named and what to do about it.
import { SlimnetError } from './errors.js';

/** A file or directory could not be read, written or created. */
export class FileSystemError extends SlimnetError {
  constructor(
    /** The path the user named (or the directory on the way to it). */
    readonly file: string,
    message: string,
    /** The errno code behind it ('EROFS', 'ENOSPC', ...), when there is one. */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

const REASONS: Readonly<Record<string, string>> = {
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error (a failing disk or a lost network mount?)',
  EFBIG: 'the file is too large for this file system',
  ENXIO: 'no such device (a named pipe with no reader?)',
  ETXTBSY: 'the file is busy (a running program)',
  EBUSY: 'the device or resource is busy',
  EINVAL: 'invalid argument for this kind of file',
};

/** The reason of a Node file-system error in words, with its code: 'read-only file system (EROFS)'. */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  const code = err?.code;
  if (code && REASONS[code]) return `${REASONS[code]} (${code})`;
  // Unknown code: Node's message without the syscall prefix ("ENOSPC: no space left on device, write").
  const msg = err?.message ?? String(e);
  return msg.replace(/^[A-Z]+: /, '').replace(/, [a-z]+( '.*')?$/, '') + (code ? ` (${code})` : '');
}

/** The errno code of an error (undefined when it has none). */
export function errnoCode(e: unknown): string | undefined {
  const c = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** A FileSystemError for `file` from a caught Node error: `${file}: ${doing}: ${reason}`. */
export function fsError(file: string, doing: string, e: unknown): FileSystemError {
  if (e instanceof FileSystemError) return e;
  return new FileSystemError(file, `${doing}: ${describeFsError(e)}`, errnoCode(e), { cause: e });
}
