/**
 * The files commands write (`--out`, `--rejects`, `publish`): through the
 * atomic module, interruptible by SIGINT/SIGTERM, with errors of the file
 * system turned into sentences naming the file the user asked for.
 */
import { dirname, resolve } from 'node:path';
import { ConsentError, interrupted, notFound, conflict } from '../consent/errors.js';
import { openAtomicFile, type AtomicFile } from '../io/atomic-file.js';
import type { CommandContext } from './context.js';

/**
 * The SIGINT/SIGTERM signal of this command (taking them over), if the
 * process has one. Call it once the command is about to write a file.
 */
export function interruptSignal(ctx: CommandContext): AbortSignal | undefined {
  return ctx.deps.interrupts?.();
}

const WHY: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
};

/**
 * An error of the file system while writing `shown` (the path as the user
 * gave it), as a sentence naming it. The errno error is kept as `cause` (with
 * its `code` and `path`); `code` and `path` (the final file) are also set on
 * the returned error, so the central errno → exit-code mapping can read them.
 * A missing folder is `not-found` (exit 3), a folder in the file's place a
 * `conflict` (exit 4). Anything that is not an errno error is returned as is.
 */
export function fileWriteError(e: unknown, shown: string, absolute: string): unknown {
  if (e instanceof ConsentError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // File-system errors only (they name their syscall): not SQLite's, which also carry a string code.
  if (typeof code !== 'string' || typeof (e as NodeJS.ErrnoException).syscall !== 'string') return e;
  let err: Error;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    err = notFound(`Cannot write ${shown}: the folder ${dirname(absolute)} does not exist (or a part of its path is a file).`, 'Create the folder, or choose another path.');
  } else if (code === 'EISDIR' || code === 'EEXIST') {
    err = conflict(`Cannot write ${shown}: ${absolute} is a folder (or a part of its path is a file that is in the way).`, 'Choose another path.');
  } else {
    err = new Error(`Cannot write ${shown}: ${WHY[code] ?? code} (${code}); nothing was written.`, { cause: e });
  }
  if (!(err as { cause?: unknown }).cause) Object.defineProperty(err, 'cause', { value: e, enumerable: false, configurable: true });
  Object.assign(err, { code, path: absolute });
  return err;
}

/** The error to report when `signal` stopped the writing of `shown`. */
export function interruptedWriting(signal: AbortSignal, shown: string): ConsentError {
  return interrupted(String(signal.reason), `Interrupted (${String(signal.reason)}): nothing was written to ${shown}.`);
}

/**
 * Runs `fill` on an atomic file for `--out`-like `shown` (relative to the
 * command's cwd), then commits it. On an error or an interruption the temp
 * file is removed, the final name keeps what it had, and the error says so.
 */
export async function writeOutputFile<T>(
  ctx: CommandContext,
  shown: string,
  fill: (file: AtomicFile) => Promise<T>,
  signal: AbortSignal | undefined = interruptSignal(ctx),
): Promise<T> {
  const absolute = resolve(ctx.deps.cwd, shown);
  // Only the file's own operations are errors "writing <shown>"; what `fill` throws otherwise passes as it is.
  const own = async <R>(op: () => Promise<R>): Promise<R> => {
    try {
      return await op();
    } catch (e) {
      if (signal?.aborted) throw interruptedWriting(signal, shown);
      throw fileWriteError(e, shown, absolute);
    }
  };
  const file = await own(() => openAtomicFile(absolute, { signal }));
  const guarded: AtomicFile = {
    path: file.path,
    tempPath: file.tempPath,
    write: (text) => own(() => file.write(text)),
    sync: () => own(() => file.sync()),
    commit: () => own(() => file.commit()),
    discard: () => file.discard(),
  };
  try {
    const result = await fill(guarded);
    await guarded.commit();
    return result;
  } catch (e) {
    await file.discard();
    if (signal?.aborted && !(e instanceof ConsentError)) throw interruptedWriting(signal, shown);
    throw e;
  }
}
