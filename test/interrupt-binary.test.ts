import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/run-cli.js';

const BIN = join(process.cwd(), 'bin/consent.js');
const ROWS = 200_000;

let db: string;

function consent(...args: string[]) {
  return spawnSync(process.execPath, [BIN, '--db', db, ...args], { encoding: 'utf8', env: { ...process.env, CONSENT_ACTOR: 'op' } });
}

/** Our temp files in `dir`: `.<name>.<random>.tmp`. */
function temps(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tmp')) : [];
}

/**
 * Spawns the binary in `cwd`; once its temp file in `watch` holds some bytes
 * (the command is mid-way), calls `act` (send a signal, remove the folder…).
 * Resolves with the exit code, stderr and how big the temp file was then.
 */
function runAndActMidway(cwd: string, watch: string, args: string[], act: (child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; seenBytes: number }>((resolve) => {
    const child = spawn(process.execPath, [BIN, '--db', db, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let seenBytes = 0;
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setInterval(() => {
      for (const t of temps(watch)) {
        let size = 0;
        try {
          size = statSync(join(watch, t)).size;
        } catch {
          continue;
        }
        if (size > 0 && seenBytes === 0) {
          seenBytes = size;
          clearInterval(timer);
          act(child);
        }
      }
    }, 2);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stderr, seenBytes });
    });
  });
}

describe('interrupted and failing writers (built binary)', () => {
  // One big store for the whole file (tempDir() folders go after each test).
  let storeDir: string;
  afterAll(() => rmSync(storeDir, { recursive: true, force: true }));
  beforeAll(() => {
    const dir = (storeDir = mkdtempSync(join(tmpdir(), 'consent-interrupt-')));
    db = join(dir, 'consent.db');
    const lines = ['email,first_name,last_name,optout_sms'];
    for (let i = 0; i < ROWS; i++) lines.push(`person${i}@example.com,First${i},Last${i},${i % 3 === 0 ? 1 : 0}`);
    writeFileSync(join(dir, 'big.csv'), lines.join('\n') + '\n');
    expect(consent('profile', 'import', join(dir, 'big.csv')).status).toBe(0);
    expect(consent('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop').status).toBe(0);
    expect(consent('landing', 'publish', 'stop', '--out-dir', join(dir, 'public')).status).toBe(0);
  }, 120_000);

  it('SIGINT during `profile export --out part.csv`: exit 130, says nothing was written, no part.csv, no temp file', async () => {
    const dir = tempDir();
    const r = await runAndActMidway(dir, dir, ['profile', 'export', '--out', 'part.csv'], (c) => c.kill('SIGINT'));
    expect(r.seenBytes).toBeGreaterThan(0); // it was interrupted mid-way, not before it began
    expect(r.stderr).toContain('Interrupted (SIGINT): nothing was written to part.csv.');
    expect(r.code).toBe(130);
    expect(existsSync(join(dir, 'part.csv'))).toBe(false);
    expect(temps(dir)).toEqual([]);
  }, 60_000);

  it('SIGINT during an export over an existing file: the file keeps its old content', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'audience.csv'), 'the old audience\n');
    const r = await runAndActMidway(dir, dir, ['profile', 'export', '--out', 'audience.csv'], (c) => c.kill('SIGINT'));
    expect(r.seenBytes, r.stderr).toBeGreaterThan(0);
    expect(r.code).toBe(130);
    expect(readFileSync(join(dir, 'audience.csv'), 'utf8')).toBe('the old audience\n');
    expect(temps(dir)).toEqual([]);
    // Uninterrupted, the whole export replaces it.
    const whole = spawnSync(process.execPath, [BIN, '--db', db, 'profile', 'export', '--out', 'audience.csv'], { cwd: dir, encoding: 'utf8' });
    expect(whole.status).toBe(0);
    expect(readFileSync(join(dir, 'audience.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(ROWS + 1);
    expect(temps(dir)).toEqual([]);
  }, 60_000);

  it('SIGTERM during `landing links --out`: exit 143, nothing written, no temp file', async () => {
    const dir = tempDir();
    const r = await runAndActMidway(dir, dir, ['landing', 'links', 'stop', '--out', 'links.csv'], (c) => c.kill('SIGTERM'));
    expect(r.seenBytes, r.stderr).toBeGreaterThan(0);
    expect(r.stderr).toContain('Interrupted (SIGTERM): nothing was written to links.csv.');
    expect(r.code).toBe(143);
    expect(existsSync(join(dir, 'links.csv'))).toBe(false);
    expect(temps(dir)).toEqual([]);
  }, 60_000);

  it('the folder removed while an export is written: exit 3 naming the file, nothing left behind', async () => {
    const dir = tempDir();
    const sub = join(dir, 'out');
    mkdirSync(sub);
    const r = await runAndActMidway(dir, sub, ['profile', 'export', '--out', 'out/part.csv'], () => rmSync(sub, { recursive: true, force: true }));
    expect(r.seenBytes, r.stderr).toBeGreaterThan(0);
    expect(r.stderr).toContain('Cannot write out/part.csv');
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(r.code).toBe(3);
    expect(existsSync(sub)).toBe(false);
  }, 60_000);
});
