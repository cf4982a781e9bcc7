import { ConsentError } from '../consent/errors.js';

/**
 * Errors of the environment (a missing folder, a folder given as a file, a
 * read-only disk, a full one) are not bugs: each becomes a ConsentError whose
 * kind picks its exit code and whose message names the path and what to do.
 * Node's system errors carry `code`, `syscall` and `path`; anything else is
 * left alone (and reported as unexpected).
 */
export function fromSystemError(e: unknown): ConsentError | undefined {
  const err = e as NodeJS.ErrnoException | null;
  if (!err || typeof err !== 'object' || typeof err.code !== 'string') return undefined;
  const path = typeof err.path === 'string' ? err.path : undefined;
  const where = path ?? 'a file';
  const writing = err.syscall === 'open' ? undefined : err.syscall;
  switch (err.code) {
    case 'ENOENT':
      return path ? new ConsentError('not-found', `No such file or folder: ${path}.`, 'Check the path; folders are not created for you.', { cause: e }) : undefined;
    case 'ENOTDIR':
      return new ConsentError('not-found', `${where}: a part of that path is a file, not a folder.`, 'Check the path.', { cause: e });
    case 'EISDIR':
      return new ConsentError('invalid', `${where} is a folder; a file is needed here.`, 'Give the path of a file.', { cause: e });
    case 'EACCES':
    case 'EPERM':
      return new ConsentError('not-permitted', `Not permitted to ${writing ?? 'open'} ${where}.`, 'Check the permissions of the file and of its folder.', { cause: e });
    case 'EROFS':
      return new ConsentError('not-permitted', `${where} is on a read-only file system.`, 'Choose a writable place.', { cause: e });
    case 'ENOSPC':
    case 'EDQUOT':
      return new ConsentError('no-space', `No space left on the disk for ${where}; nothing was written there.`, 'Free some space and run the command again.', {
        cause: e,
      });
    case 'EEXIST':
      return new ConsentError('conflict', `${where} already exists.`, 'Choose another name, or remove it first.', { cause: e });
    case 'EMFILE':
    case 'ENFILE':
      return new ConsentError('busy', 'Too many open files on this machine right now.', 'Retry later, or raise the open-file limit (ulimit -n).', { cause: e });
    default:
      return undefined;
  }
}
