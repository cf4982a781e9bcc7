import type { ErrorKind } from '../consent/errors.js';

/** The one table of exit codes. `--help` prints it; the README lists it. */
export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  busy: 5,
  integrity: 6,
  notPermitted: 7,
  noSpace: 8,
  cancelled: 130,
  /** Stopped by SIGTERM (128 + 15, what a shell reports for a process killed by it). */
  terminated: 143,
  /** stdout closed by its reader (`… | head`): what a command killed by SIGPIPE reports. */
  closedPipe: 141,
} as const;

export const EXIT_DESCRIPTIONS: readonly [number, string][] = [
  [EXIT.ok, 'success'],
  [EXIT.unexpected, 'unexpected error (a bug: rerun with --debug and report it)'],
  [EXIT.usage, 'usage error or invalid input'],
  [EXIT.notFound, 'not found (store, profile, page, file or folder)'],
  [EXIT.conflict, 'conflict (duplicate email, existing file or page, unpublished page)'],
  [EXIT.busy, 'busy or unavailable, try again later: the store was locked too long by another process, its server cannot be reached, or a webhook receiver did not take `webhook test`'],
  [EXIT.integrity, 'integrity failure (the ledger does not verify, or disagrees with the stored state)'],
  [EXIT.notPermitted, 'not permitted: a file or folder cannot be read or written (permissions, read-only store or disk)'],
  [EXIT.noSpace, 'no space left on the disk (nothing of the change was written)'],
  [EXIT.cancelled, 'cancelled at a prompt, or interrupted by Ctrl-C (SIGINT): nothing was written'],
  [EXIT.terminated, 'stopped by SIGTERM: nothing was written'],
  [EXIT.closedPipe, 'stdout closed by its reader (e.g. `| head`): stopped quietly, as SIGPIPE would'],
];

export function exitCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid':
      return EXIT.usage;
    case 'not-found':
      return EXIT.notFound;
    case 'conflict':
      return EXIT.conflict;
    case 'busy':
      return EXIT.busy;
    case 'integrity':
      return EXIT.integrity;
    case 'cancelled':
      return EXIT.cancelled;
    case 'not-permitted':
      return EXIT.notPermitted;
    case 'no-space':
      return EXIT.noSpace;
    case 'terminated':
      return EXIT.terminated;
  }
}

export function exitCodeHelp(): string {
  return ['Exit codes:', ...EXIT_DESCRIPTIONS.map(([code, d]) => `  ${String(code).padStart(3)}  ${d}`)].join('\n');
}
