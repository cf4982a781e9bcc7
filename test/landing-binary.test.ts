import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDb } from './helpers/run-cli.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'consent.js');

/** Runs the built binary; stdout is read slowly, so the command must honour backpressure. */
function spawnSlowReader(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      chunks.push(c);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 1);
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8'), stderr }));
  });
}

describe('the built binary', () => {
  it('landing links streams every profile through a slow pipe; stdin not a terminal makes create fail fast', async () => {
    const db = tempDb();
    expect((await runCli(['--db', db, 'landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop'])).code).toBe(0);
    expect((await runCli(['--db', db, 'landing', 'publish', 'stop', '--out-dir', `${db}.out`])).code).toBe(0);
    const raw = new Database(db);
    raw.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
      INSERT INTO profiles (email, created_at, updated_at) SELECT 'p' || i || '@example.com', 'x', 'x' FROM n`);
    raw.close();
    const r = await spawnSlowReader(['--db', db, 'landing', 'links', 'stop', '--base-url', 'https://p.example.com']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(20001);
    expect(lines[20000]).toMatch(/^20000,p20000@example\.com,https:\/\/p\.example\.com\/stop\?t=[\w-]{66},https:\/\/p\.example\.com\/stop\/one-click\?t=[\w-]{66}$/);
    expect(new Set(lines.map((l) => l.split(',')[2])).size).toBe(20001);

    const c = await spawnSlowReader(['--db', db, 'landing', 'create', 'x']);
    expect(c.code).toBe(2);
    expect(c.stdout).toBe('');
    expect(c.stderr).toContain('--type, --title, --channels');
  });
});
