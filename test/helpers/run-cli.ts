import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach } from 'vitest';
import type { CliDeps } from '../../src/cli/deps.js';
import type { Prompter } from '../../src/cli/prompter.js';
import { run } from '../../src/cli/run.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text fed on stdin (not a terminal). */
  stdin?: string;
  /** Pretend stdin (and stdout) are a terminal. */
  tty?: boolean;
  prompter?: Prompter;
  env?: Record<string, string | undefined>;
  now?: Date;
  cwd?: string;
  /** What `deps.interrupts()` returns: abort it to play SIGINT/SIGTERM (reason = the signal's name). */
  interrupt?: AbortSignal;
  /** Opens the store instead of the real opener (e.g. to observe it); default: the real store. */
  openStore?: CliDeps['openStore'];
  /** Called with each chunk written to stdout, as it is written. */
  onStdout?: (chunk: string) => void;
}

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'consent-test-'));
  dirs.push(dir);
  return dir;
}

/** A path for a new store file in a fresh temporary folder. */
export function tempDb(): string {
  return join(tempDir(), 'consent.db');
}

export const FIXED_NOW = new Date('2026-01-02T03:04:05.000Z');

/** Runs the CLI in-process against real files, with captured streams. */
export async function runCli(argv: string[], options: RunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const stdinStream = options.stdin !== undefined ? Readable.from([Buffer.from(options.stdin)]) : new PassThrough();
  if (options.stdin === undefined) (stdinStream as PassThrough).end();
  const deps: CliDeps = {
    stdout: {
      write: (s: string) => {
        options.onStdout?.(s);
        stdout += s;
      },
      isTTY: options.tty ?? false,
      columns: 120,
    },
    stderr: { write: (s: string) => (stderr += s), isTTY: options.tty ?? false },
    stdin: { isTTY: options.tty ?? false, stream: stdinStream },
    env: { CONSENT_ACTOR: undefined, ...options.env },
    now: () => options.now ?? FIXED_NOW,
    user: () => 'tester',
    cwd: options.cwd ?? process.cwd(),
    prompter: options.prompter,
    ...(options.interrupt ? { interrupts: () => options.interrupt! } : {}),
    openStore: options.openStore,
  };
  const code = await run(argv, deps);
  return { code, stdout, stderr };
}

/** Runs with `--db <db>` and parses stdout as JSON; fails loudly on a non-zero exit. */
export async function runJson<T = any>(db: string, argv: string[], options: RunOptions = {}): Promise<T> {
  const r = await runCli(['--db', db, ...argv], options);
  if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A prompter whose answers are given in advance; records the questions. */
export function scriptedPrompter(answers: unknown[]): Prompter & { asked: { kind: string; message: string; choices?: unknown }[] } {
  const asked: { kind: string; message: string; choices?: unknown }[] = [];
  const next = (kind: string, message: string, choices?: unknown) => {
    asked.push({ kind, message, choices });
    if (answers.length === 0) throw new Error(`unexpected prompt: ${message}`);
    const a = answers.shift();
    if (a instanceof Error) throw a;
    return a;
  };
  return {
    asked,
    checkbox: async (message, choices) => next('checkbox', message, choices) as any,
    select: async (message, choices) => next('select', message, choices) as any,
    input: async (message) => next('input', message) as any,
    confirm: async (message) => next('confirm', message) as any,
  };
}

/** The stores every backend-parameterised test runs on (as Kysely's and Drizzle's suites take a dialect). */
export const BACKENDS = ['sqlite', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * A location for a new, empty store of this backend: a path in a fresh
 * temporary folder (SQLite) or the URL of a new database (PostgreSQL).
 */
export async function tempStore(backend: Backend): Promise<string> {
  if (backend === 'sqlite') return tempDb();
  const { pgTestDatabase } = await import('./pg.js');
  return pgTestDatabase();
}
