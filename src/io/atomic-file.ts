/**
 * Atomic file output: every file the tool writes appears whole under its
 * final name, or not at all.
 *
 * The bytes go to `<dir>/.<name>.<random>.tmp` (same folder, so the final
 * rename is atomic; opened with `wx`, so it never follows or clobbers
 * anything), are fsynced, and the temp file is renamed over the final name
 * only once complete; the folder is then fsynced so the rename survives a
 * power cut. On any error, or when `signal` is aborted, the temp file is
 * closed and removed and the final name is left as it was (absent, or with
 * its old content).
 *
 * No domain, no terminal: usable from src/cli, src/landing and src/imports.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes are gathered into chunks of about this size before they reach the disk. */
const CHUNK = 1 << 16;

export interface AtomicFileOptions {
  /** Aborting it makes the next `write` throw (and `withAtomicFile` discard the file). */
  signal?: AbortSignal;
}

export interface AtomicFile {
  /** The final name. */
  readonly path: string;
  /** The temporary name the bytes go to until `commit`. */
  readonly tempPath: string;
  /**
   * Appends text. Resolves once the text is buffered or on disk: awaiting
   * each call is the backpressure (at most ~64 KiB are held in memory).
   * Throws the signal's reason once the signal is aborted. Text is written
   * as UTF-8; bytes (another encoding, already encoded) as they are.
   */
  write(text: string | Uint8Array): Promise<void>;
  /** Flushes and fsyncs what was written so far, so that a full disk shows now, before anything depends on it. */
  sync(): Promise<void>;
  /** Flushes, fsyncs, closes, renames over the final name, fsyncs the folder. */
  commit(): Promise<void>;
  /** Closes and removes the temp file; the final name is untouched. Idempotent, never throws. */
  discard(): Promise<void>;
}

/** `.<name>.<random>.tmp` next to `path`: hidden, and recognisable as ours. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Opens the temp file for `path`. Errors of the file system (ENOENT, EACCES…) are thrown as they are, with their `path`. */
export async function openAtomicFile(path: string, options: AtomicFileOptions = {}): Promise<AtomicFile> {
  const { signal } = options;
  signal?.throwIfAborted();
  const tempPath = tempPathFor(path);
  // A file being replaced keeps its permissions (an export someone made private stays private).
  const previousMode = await stat(path).then((st) => (st.isFile() ? st.mode & 0o7777 : undefined), () => undefined);
  const handle: FileHandle = await open(tempPath, 'wx', 0o666);
  if (previousMode !== undefined) {
    try {
      await handle.chmod(previousMode);
    } catch (e) {
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      throw e;
    }
  }
  let buffer: (string | Uint8Array)[] = [];
  let buffered = 0;
  let state: 'open' | 'committed' | 'discarded' = 'open';

  const flush = async () => {
    if (buffered === 0) return;
    const parts = buffer;
    buffer = [];
    buffered = 0;
    if (parts.every((p) => typeof p === 'string')) await handle.write(parts.join(''), null, 'utf8');
    else await handle.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));
  };

  return {
    path,
    tempPath,
    async write(text: string | Uint8Array) {
      if (state !== 'open') throw new Error(`write after ${state}: ${path}`);
      signal?.throwIfAborted();
      buffer.push(text);
      buffered += text.length;
      if (buffered >= CHUNK) await flush();
    },
    async sync() {
      if (state !== 'open') throw new Error(`sync after ${state}: ${path}`);
      await flush();
      await handle.sync();
    },
    async commit() {
      if (state !== 'open') throw new Error(`commit after ${state}: ${path}`);
      await flush();
      await handle.sync();
      await handle.close();
      state = 'committed';
      try {
        await rename(tempPath, path);
      } catch (e) {
        await unlink(tempPath).catch(() => undefined);
        throw e;
      }
      await syncFolder(dirname(path));
    },
    async discard() {
      if (state !== 'open') return;
      state = 'discarded';
      buffer = [];
      buffered = 0;
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
    },
  };
}

/**
 * Runs `fill` on a new atomic file for `path`, then commits it; if `fill`
 * or the commit fails (or the signal aborts a write), the temp file is
 * removed and the error rethrown.
 */
export async function withAtomicFile<T>(path: string, fill: (file: AtomicFile) => Promise<T>, options: AtomicFileOptions = {}): Promise<T> {
  const file = await openAtomicFile(path, options);
  try {
    const result = await fill(file);
    await file.commit();
    return result;
  } catch (e) {
    await file.discard();
    throw e;
  }
}

/** The whole of `text` to `path`, atomically. */
export async function writeFileAtomic(path: string, text: string, options: AtomicFileOptions = {}): Promise<void> {
  await withAtomicFile(path, (f) => f.write(text), options);
}

/** Makes a rename in `dir` durable. Not every platform can fsync a folder: then it is skipped. */
async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on some platforms: the rename is done, only its durability is the OS's.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
