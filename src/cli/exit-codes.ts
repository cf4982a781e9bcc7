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
  [EXIT.notFound, 'not found (profile, page, file)'],
  [EXIT.conflict, 'conflict (duplicate email, existing file or page, unpublished page)'],
  [EXIT.busy, 'store busy: another process held its lock too long'],
  [EXIT.integrity, 'integrity failure (the ledger does not verify)'],
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
    case 'terminated':
      return EXIT.terminated;
  }
}

export function exitCodeHelp(): string {
  return ['Exit codes:', ...EXIT_DESCRIPTIONS.map(([code, d]) => `  ${String(code).padStart(3)}  ${d}`)].join('\n');
}
