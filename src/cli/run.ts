import { Command, CommanderError, Option } from 'commander';
import { ConsentError } from '../consent/errors.js';
import { CommandContext, type GlobalOptions } from './context.js';
import type { CliDeps } from './deps.js';
import { EXIT, exitCodeFor, exitCodeHelp } from './exit-codes.js';
import { COMMANDS } from './commands/index.js';

export type Action = (ctx: CommandContext, args: string[], options: Record<string, unknown>) => Promise<void>;
/** Wraps a command's work so that it receives a context built from the parsed options. */
export type Act = (fn: Action) => (...commanderArgs: unknown[]) => Promise<void>;

export function buildProgram(deps: CliDeps, onContext: (ctx: CommandContext) => void): Command {
  const program = new Command('consent')
    .description('Manage per-channel marketing consent of customer profiles, keep the proof, publish landing pages.')
    .option('--db <path>', 'the store file (default: $CONSENT_DB, else ./consent.db)')
    .option('--actor <name>', 'who is making the change (default: $CONSENT_ACTOR, else the OS user)')
    .option('--no-color', 'no colour, even on a terminal (NO_COLOR and TERM=dumb also turn it off)')
    .addOption(new Option('--debug', 'show stack traces of errors'))
    .version('0.1.0', '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\n' + exitCodeHelp())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.stdout.write(s),
      writeErr: (s) => deps.stderr.write(s),
    });

  const act: Act =
    (fn) =>
    async (...a) => {
      const command = a[a.length - 1] as Command;
      const options = a[a.length - 2] as Record<string, unknown>;
      const args = (a.slice(0, -2) as (string | string[] | undefined)[]).flatMap((x) => (x === undefined ? [] : x));
      const ctx = new CommandContext(deps, command.optsWithGlobals() as GlobalOptions & Record<string, unknown>);
      onContext(ctx);
      await fn(ctx, args, options);
    };

  for (const register of COMMANDS) register(program, act);
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput(program.configureOutput());
    if (cmd !== program) cmd.showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

export function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** Runs one command line; returns the exit code. Never throws, never exits. */
export async function run(argv: readonly string[], deps: CliDeps): Promise<number> {
  let ctx: CommandContext | undefined;
  const debug = argv.includes('--debug');
  try {
    const program = buildProgram(deps, (c) => (ctx = c));
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    return report(e, deps, debug);
  } finally {
    try {
      await ctx?.close();
    } catch {
      // closing never hides the command's own result
    }
  }
}

function report(e: unknown, deps: CliDeps, debug: boolean): number {
  if (e instanceof CommanderError) {
    // Help and version are successes; every other commander error is a usage error
    // whose message commander has already written to stderr.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (e instanceof ConsentError) {
    deps.stderr.write(`Error: ${e.message}\n`);
    if (e.hint) deps.stderr.write(`${e.hint}\n`);
    if (debug && e.stack) deps.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e.kind);
  }
  // The reader of our stdout went away (`consent profile export | head`): not
  // a failure to report, just the end, as SIGPIPE ends a C program. (Only
  // stdout's: a broken --rejects pipe is an error like any other.)
  const stdoutError = (deps.stdout as { errored?: { code?: unknown } | null }).errored;
  if ((e as { code?: unknown })?.code === 'EPIPE' && stdoutError?.code === 'EPIPE') return EXIT.closedPipe;
  const err = e instanceof Error ? e : new Error(String(e));
  deps.stderr.write(`Error: unexpected failure: ${err.message}\n`);
  deps.stderr.write(debug ? `${err.stack}\n` : 'Run again with --debug to see where it failed, and report it.\n');
  return EXIT.unexpected;
}
