import type { Readable } from 'node:stream';
import type { LandingStore } from '../landing/repository.js';
import type { OpenOptions } from '../store/index.js';
import type { Prompter } from './prompter.js';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Everything a command needs from the outside world. `bin/consent.js` passes
 * the real process; tests pass buffers, a fixed clock and a fake prompter.
 */
export interface CliDeps {
  stdout: OutStream;
  stderr: OutStream;
  stdin: { isTTY?: boolean; stream: Readable };
  env: Record<string, string | undefined>;
  now: () => Date;
  /** The OS user, the last fallback for `--actor`. */
  user: () => string;
  cwd: string;
  prompter?: Prompter;
  openStore?: (location: string, options: OpenOptions) => Promise<LandingStore>;
  /**
   * Takes over SIGINT/SIGTERM for the rest of the command and returns a signal
   * aborted, with the signal's name as its reason, when one arrives. Only
   * commands that must clean up (file writers, the server) call it; others
   * die at Ctrl-C as usual. Absent in-process: nothing interrupts.
   */
  interrupts?: () => AbortSignal;
}
