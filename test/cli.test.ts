import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allCommands, buildProgram } from '../src/cli/run.js';
import { EXIT_DESCRIPTIONS } from '../src/cli/exit-codes.js';
import { runCli, tempDb } from './helpers/run-cli.js';

const BIN = join(process.cwd(), 'bin/consent.js');

function consent(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: options.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', ...options.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('help', () => {
  it('lists every exit code in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const [code, text] of EXIT_DESCRIPTIONS) expect(r.stdout).toContain(`${String(code).padStart(3)}  ${text}`);
  });

  it('every command and option has help text', () => {
    const program = buildProgram({} as never, () => {});
    for (const cmd of allCommands(program)) {
      expect(cmd.description(), `description of ${cmd.name()}`).not.toBe('');
      for (const opt of cmd.options) expect(opt.description, `${cmd.name()} ${opt.flags}`).not.toBe('');
    }
  });

  it('every read command has --json', () => {
    const program = buildProgram({} as never, () => {});
    const reads = ['show', 'list', 'history', 'verify'];
    for (const cmd of allCommands(program).filter((c) => reads.includes(c.name()))) {
      expect(cmd.options.map((o) => o.long), cmd.name()).toContain('--json');
    }
  });

  it('an unknown option is a usage error, exit 2', async () => {
    const r = await runCli(['profile', 'show', '1', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});

describe('the built binary', () => {
  it('runs a session end to end with real exit codes and pure JSON on stdout', () => {
    const db = tempDb();
    expect(consent(['--db', db, 'profile', 'add', '--email', 'a@x.io']).code).toBe(0);
    expect(consent(['--db', db, 'profile', 'add', '--email', 'a@x.io']).code).toBe(4);
    const out = consent(['--db', db, 'profile', 'optout', 'a@x.io', '--channel', 'email', '--json']);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).optOut.email).toBe(true);
    const missing = consent(['--db', db, 'profile', 'show', 'nobody@x.io', '--json']);
    expect(missing).toMatchObject({ code: 3, stdout: '' });
    expect(consent(['--db', db, 'profile', 'optout', 'a@x.io', '--channel', 'nope']).code).toBe(2);
  });

  it('never prompts when stdin is not a terminal', () => {
    const db = tempDb();
    consent(['--db', db, 'profile', 'add', '--email', 'a@x.io']);
    const r = consent(['--db', db, 'profile', 'optin', '1'], { input: 'email\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --channel');
  });

  it('hides stack traces unless --debug', () => {
    const db = join(tempDb(), 'no-such-dir', 'x.db');
    const plain = consent(['--db', db, 'profile', 'list']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = consent(['--db', db, 'profile', 'list', '--debug']);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
