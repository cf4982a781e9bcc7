/** `consent landing serve` as its own process (the built binary), killed after each test if still running. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'consent.js');

export interface Instance {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Instance[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await s.exit;
    }
  }
});

/** Starts a server on a free port of 127.0.0.1 and resolves once it serves. */
export async function serve(db: string, env: Record<string, string> = {}): Promise<Instance> {
  const child = spawn(process.execPath, [BIN, '--db', db, 'landing', 'serve', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CONSENT_DB: '', ...env },
  });
  let stderr = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      stderr += c;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const s = { child, url, stderr: () => stderr, exit };
  running.push(s);
  return s;
}
