/**
 * Typed errors. The CLI maps each kind to one exit code in one place
 * (src/cli/exit-codes.ts); the HTTP server maps them to statuses.
 * `hint` says what to do about it.
 */
export type ErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'busy'
  | 'cancelled'
  /** Stopped by SIGTERM. */
  | 'terminated'
  | 'integrity'
  /** The environment refuses: permission denied, a read-only file or file system. */
  | 'not-permitted'
  /** The disk (or quota) is full. */
  | 'no-space';

export class ConsentError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown; details?: unknown },
  ) {
    super(message, options);
    this.name = 'ConsentError';
    this.details = options?.details;
  }
  /** Machine-readable specifics for scripts (`--json` errors): e.g. the unknown refs, the first bad rows. */
  readonly details?: unknown;
}

export const invalid = (message: string, hint?: string) => new ConsentError('invalid', message, hint);
export const notFound = (message: string, hint?: string) => new ConsentError('not-found', message, hint);
export const conflict = (message: string, hint?: string) => new ConsentError('conflict', message, hint);
export const busy = (message: string, hint?: string, cause?: unknown) =>
  new ConsentError('busy', message, hint, { cause });
export const notPermitted = (message: string, hint?: string, cause?: unknown) =>
  new ConsentError('not-permitted', message, hint, { cause });
export const noSpace = (message: string, hint?: string, cause?: unknown) => new ConsentError('no-space', message, hint, { cause });
export const cancelled = (message = 'Cancelled.') => new ConsentError('cancelled', message);
/** Stopped by SIGINT (`cancelled`, as Ctrl-C at a prompt) or SIGTERM (`terminated`). */
export const interrupted = (signal: string, message: string) =>
  new ConsentError(signal === 'SIGTERM' ? 'terminated' : 'cancelled', message);

export function isConsentError(e: unknown, kind?: ErrorKind): e is ConsentError {
  return e instanceof ConsentError && (kind === undefined || e.kind === kind);
}
