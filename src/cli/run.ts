import { Command, CommanderError, Option } from 'commander';
import { ConsentError } from '../consent/errors.js';
import { fromSystemError } from './system-errors.js';
import { CommandContext, type GlobalOptions } from './context.js';
import type { CliDeps } from './deps.js';
import { EXIT, exitCodeFor, exitCodeHelp } from './exit-codes.js';
import { COMMANDS } from './commands/index.js';

export type Action = (ctx: CommandContext, args: string[], options: Record<string, unknown>) => Promise<void>;
/** Wraps a command's work so that it receives a context built from the parsed options. */
export type Act = (fn: Action) => (...commanderArgs: unknown[]) => Promise<void>;

/** Where commander's own error messages go: stderr, or kept for the JSON error of a `--json` run. */
export interface ErrorSink {
  json: boolean;
  commanderMessage?: string;
}

export function buildProgram(deps: CliDeps, onContext: (ctx: CommandContext) => void, errors: ErrorSink = { json: false }): Command {
  const program = new Command('consent')
    .description('Manage per-channel marketing consent of customer profiles, keep the proof, publish landing pages.')
    .option('--db <path>', 'the store file (default: $CONSENT_DB, else ./consent.db)')
    .option('--actor <name>', 'who is making the change (default: $CONSENT_ACTOR, else the OS user)')
    .option('--no-color', 'no colour, even on a terminal (NO_COLOR and TERM=dumb also turn it off)')
    .addOption(new Option('--debug', 'show stack traces of errors'))
    .version('0.1.0', '-V, --version')
    .addHelpText('after', '\n' + exitCodeHelp())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.stdout.write(s),
      writeErr: (s) => deps.stderr.write(s),
      outputError: (s, write) => {
        if (errors.json) errors.commanderMessage = (errors.commanderMessage ?? '') + s;
        else write(s);
      },
    });

  const act: Act =
    (fn) =>
    async (...a) => {
      const command = a[a.length - 1] as Command;
      const options = a[a.length - 2] as Record<string, unknown>;
      const args = (a.slice(0, -2) as (string | string[] | undefined)[]).flatMap((x) => (x === undefined ? [] : x));
      const ctx = new CommandContext(deps, command.optsWithGlobals() as GlobalOptions & Record<string, unknown>, commandPath(command));
      onContext(ctx);
      // A blank --actor or CONSENT_ACTOR is refused before anything is done.
      if (ctx.globals.actor !== undefined || deps.env.CONSENT_ACTOR !== undefined) ctx.actor();
      await fn(ctx, args, options);
    };

  for (const register of COMMANDS) register(program, act);
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput(program.configureOutput());
    // With --json the error is one JSON object on stderr, and nothing else.
    if (!errors.json) cmd.showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

/** `profile add` for the add verb of profile: how the command tables name a command. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** Runs one command line; returns the exit code. Never throws, never exits. */
export async function run(argv: readonly string[], deps: CliDeps): Promise<number> {
  let ctx: CommandContext | undefined;
  const options = argv.slice(0, Math.max(0, argv.indexOf('--')) || argv.length);
  const debug = options.includes('--debug');
  const errors: ErrorSink = { json: options.includes('--json') };
  try {
    const program = buildProgram(deps, (c) => (ctx = c), errors);
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    return report(e, deps, debug, errors);
  } finally {
    try {
      await ctx?.close();
    } catch {
      // closing never hides the command's own result
    }
  }
}

function report(e: unknown, deps: CliDeps, debug: boolean, errors: ErrorSink): number {
  if (e instanceof CommanderError) {
    // --help, --version and `consent help` are successes. Help shown because a
    // subcommand is missing (`consent profile`) is a usage error, so that a
    // script with a missing word does not "succeed"; every other commander
    // error is a usage error whose message commander has already written.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
    if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e.exitCode === 0) return EXIT.ok;
    if (errors.json) {
      const message = (errors.commanderMessage ?? e.message).replace(/^error:\s*/i, '').trim();
      writeJsonError(deps, { exitCode: EXIT.usage, message, hint: 'Run with --help for usage.' });
    }
    return EXIT.usage;
  }
  // The reader of our stdout went away (`consent profile export | head`): not
  // a failure to report, just the end, as SIGPIPE ends a C program. (Only
  // stdout's: a broken --rejects pipe is an error like any other.)
  const stdoutError = (deps.stdout as { errored?: { code?: unknown } | null }).errored;
  if ((e as { code?: unknown })?.code === 'EPIPE' && stdoutError?.code === 'EPIPE') return EXIT.closedPipe;
  const known = e instanceof ConsentError ? e : (fromSystemError(e) ?? storeError(e));
  if (known) {
    const exitCode = exitCodeFor(known.kind);
    if (errors.json) {
      writeJsonError(deps, { exitCode, message: known.message, hint: known.hint ?? null, details: known.details ?? null });
    } else {
      deps.stderr.write(`Error: ${known.message}\n`);
      if (known.hint) deps.stderr.write(`${known.hint}\n`);
    }
    if (debug && known.stack) deps.stderr.write(`${(known.cause as Error | undefined)?.stack ?? known.stack}\n`);
    return exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  if (errors.json) {
    writeJsonError(deps, {
      exitCode: EXIT.unexpected,
      message: `unexpected failure: ${err.message}`,
      hint: 'Run again with --debug to see where it failed, and report it.',
    });
  } else {
    deps.stderr.write(`Error: unexpected failure: ${err.message}\n`);
  }
  deps.stderr.write(debug ? `${err.stack}\n` : errors.json ? '' : 'Run again with --debug to see where it failed, and report it.\n');
  return EXIT.unexpected;
}

/**
 * For bin: a failure of one of the process's own streams (stdout on a full
 * disk), which no command can catch: its exit code and the sentence to print.
 */
export function streamFailure(e: unknown, stream: string): { code: number; message: string } {
  const known = fromSystemError(e);
  if (known?.kind === 'no-space') return { code: exitCodeFor('no-space'), message: `Error: No space left on the disk for ${stream}; the output is incomplete.\n` };
  if (known) return { code: exitCodeFor(known.kind), message: `Error: cannot write ${stream}: ${known.message}\n` };
  return { code: EXIT.unexpected, message: `Error: unexpected failure writing ${stream}: ${(e as Error)?.message ?? String(e)}\n` };
}

/** With --json an error is one JSON object on stderr, so that a script need not parse prose. */
function writeJsonError(deps: CliDeps, error: { exitCode: number; message: string; hint?: string | null; details?: unknown }): void {
  deps.stderr.write(JSON.stringify({ error: { exitCode: error.exitCode, message: error.message, hint: error.hint ?? null, details: error.details ?? null } }) + '\n');
}

/** A store's own error (a full disk found by SQLite mid-import, …), typed by the store layer. */
let translateStore: ((e: unknown) => unknown) | undefined;
function storeError(e: unknown): ConsentError | undefined {
  const t = translateStore?.(e);
  return t instanceof ConsentError ? t : undefined;
}
/** Loaded with the store, so that a command that never opens one never loads the driver. */
export function registerStoreErrors(translate: (e: unknown) => unknown): void {
  translateStore = translate;
}
