import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';
import { holdWriteLock } from './helpers/raw-store.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'consent.js');

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

/** Starts `consent landing serve --port 0` and waits for the URL it prints on stderr. */
async function serve(db: string): Promise<{ child: ChildProcess; url: string; stderr: () => string; stdout: () => string }> {
  expect((await runCli(['--db', db, 'store', 'init'])).code).toBe(0); // serve needs an existing store
  const child = spawn(process.execPath, [BIN, '--db', db, 'landing', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (c) => (stdout += c));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      stderr += c;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, stdout: () => stdout };
}

describe.each(BACKENDS)('on %s', (backend) => {
describe('consent landing serve (the built binary)', () => {
  it('prints its URL, logs requests, and on SIGTERM finishes the request in flight and exits 0 within 5 s', async () => {
    const db = await tempStore(backend);
    const cli = async (...a: string[]) => expect((await runCli(['--db', db, ...a])).code).toBe(0);
    await cli('profile', 'add', '--email', 'ann@example.com');
    await cli('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop');
    await cli('landing', 'publish', 'stop', '--out-dir', tempDir());
    const { oneClickUrl } = await runJson(db, ['landing', 'link', 'stop', '--profile', 'ann@example.com', '--json']);

    const s = await serve(db);
    expect((await fetch(`${s.url}/stop`)).status).toBe(200);

    // Another process holds the write lock for a second: the one-click POST is in flight when SIGTERM comes.
    const { released: holderExit } = await holdWriteLock(db, 1000);
    const inFlight = fetch(`${s.url}${oneClickUrl}`, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
    await new Promise((r) => setTimeout(r, 300));
    const exit = exited(s.child);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    expect((await inFlight).status).toBe(200);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(5000);
    await holderExit;

    expect(s.stdout()).toBe('');
    expect(s.stderr()).toMatch(/^GET \/stop 200 \d+\.\dms$/m);
    expect(s.stderr()).toMatch(/^POST \/stop\/one-click 200 \d+\.\dms$/m);
    expect(s.stderr()).not.toContain('?t=');
    expect(s.stderr()).toContain('SIGTERM');
    const p = await runJson(db, ['profile', 'show', 'ann@example.com', '--json']);
    expect(p.optOut.all).toBe(true);
  });

  it("the closing line counts the consent changes committed (the ledger's events), not the submissions", async () => {
    const db = (await tempStore(backend));
    const cli = async (...a: string[]) => {
      const r = await runCli(['--db', db, ...a]);
      expect(r.code, r.stderr).toBe(0);
    };
    await cli('profile', 'add', '--email', 'ann@example.com');
    await cli('profile', 'add', '--email', 'bob@example.com');
    await cli('service', 'create', 'news', '--label', 'News');
    await cli('landing', 'create', 'prefs', '--type', 'acquisition', '--title', 'Prefs', '--channels', 'email,sms,postal', '--services', 'news');
    await cli('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop');
    await cli('landing', 'publish', 'prefs', '--out-dir', join(tempDir(), 'public'));
    await cli('landing', 'publish', 'stop', '--out-dir', join(tempDir(), 'public'));
    const stop = await runJson(db, ['landing', 'link', 'stop', '--profile', 'ann@example.com', '--json']);
    const prefs = await runJson(db, ['landing', 'link', 'prefs', '--profile', 'bob@example.com', '--json']);
    const bobToken = new URL(prefs.url, 'http://x').searchParams.get('t')!;
    const events = async () => (await runJson(db, ['ledger', 'verify', '--json'])).events as number;
    const before = await events();

    const s = await serve(db);
    const post = async (path: string, fields: Record<string, string>) => {
      const r = await fetch(`${s.url}${path}`, { method: 'POST', body: new URLSearchParams(fields) });
      expect(r.status, path).toBe(200);
    };
    const oneClick = { 'List-Unsubscribe': 'One-Click' };
    await post(stop.oneClickUrl, oneClick); // sets `all`: 1
    await post(stop.oneClickUrl, oneClick); // a repeat: 0
    // Bob's form, every channel box unticked, the service ticked: 3 opt-outs + 1 subscription = 4.
    await post('/prefs', { t: bobToken, v: '1', 'service-news': 'on' });
    await post('/prefs', { t: bobToken, v: '1', 'service-news': 'on' }); // the same again: 0
    // The static page, a new address: postal unticked (1 opt-out) and the service (1 subscription) = 2.
    await post('/prefs', { email: 'carol@example.com', 'channel-email': 'on', 'channel-sms': 'on', 'service-news': 'on' });
    // The static blocklist page with an unknown address: nothing.
    await post('/stop', { email: 'nobody@example.com' });

    const exit = exited(s.child);
    s.child.kill('SIGTERM');
    expect(await exit).toEqual({ code: 0, signal: null });
    const added = (await events()) - before;
    expect(added).toBe(7);
    const closing = /^Stopped\. (\d+) changes? committed/m.exec(s.stderr());
    expect(closing, s.stderr()).not.toBeNull();
    expect(Number(closing![1])).toBe(added);
    expect(s.stderr()).toMatch(/^Stopped\. 7 changes committed in \d+ transactions?\.$/m);
  });

  it('SIGINT with an idle keep-alive connection open still exits 0 at once', async () => {
    const db = await tempStore(backend);
    const s = await serve(db);
    expect((await fetch(`${s.url}/nope`)).status).toBe(404); // leaves a keep-alive socket in fetch's pool
    const exit = exited(s.child);
    const t0 = Date.now();
    s.child.kill('SIGINT');
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a port in use is a clear error with the conflict exit code; a bad port a usage error', async () => {
    const db = await tempStore(backend);
    const s = await serve(db);
    const port = new URL(s.url).port;
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, '--db', db, 'landing', 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr!.on('data', (d) => (stderr += d));
        c.on('close', (code) => resolve({ code, stderr }));
      });
    const busyPort = await run(['--port', port]);
    const exit = exited(s.child);
    s.child.kill('SIGTERM');
    await exit;
    expect(busyPort.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(busyPort.code).toBe(4);
    const bad = await run(['--port', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port must be a port number');
  });

  it('a CONSENT_SECRET too short stops it at startup (exit 2), not on every request', async () => {
    const db = (await tempStore(backend));
    expect((await runCli(['--db', db, 'store', 'init'])).code).toBe(0);
    const c = spawn(process.execPath, [BIN, '--db', db, 'landing', 'serve', '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CONSENT_SECRET: 'tiny-secret-xyz' },
    });
    let stderr = '';
    c.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('CONSENT_SECRET is too short');
    expect(stderr).not.toContain('tiny-secret-xyz'); // the secret itself never appears
  });
});
});
