import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { rawSql, tamper } from './helpers/raw-store.js';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

async function storeWithHistory() {
  const db = (await tempStore(backend));
  await runJson(db, ['profile', 'add', '--email', 'a@x.io', '--json']);
  await runJson(db, ['profile', 'add', '--email', 'b@x.io', '--json']);
  await runCli(['--db', db, 'profile', 'optout', '1', '--channel', 'email,sms']);
  await runCli(['--db', db, 'profile', 'optout', '2', '--all']);
  await runCli(['--db', db, 'profile', 'optin', '1', '--channel', 'sms']);
  return db;
}


describe('ledger verify', () => {
  it('passes on an intact chain and reports its size and head', async () => {
    const db = await storeWithHistory();
    const r = await runCli(['--db', db, 'ledger', 'verify', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: true, blocks: 3, events: 4 });
    expect(j.head).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the tool itself refuses to edit or delete ledger rows', async () => {
    const db = await storeWithHistory();
    await expect(rawSql(db, "UPDATE ledger_events SET actor = 'x' WHERE id = 1")).rejects.toThrow(/append-only/);
    await expect(rawSql(db, 'DELETE FROM ledger_events WHERE id = 1')).rejects.toThrow(/append-only/);
    await expect(rawSql(db, "UPDATE ledger_blocks SET hash = 'x' WHERE id = 1")).rejects.toThrow(/append-only/);
  });

  it('names the first edited event', async () => {
    const db = await storeWithHistory();
    await tamper(db, "UPDATE ledger_events SET action = 'optin' WHERE id = 3");
    const r = await runCli(['--db', db, 'ledger', 'verify', '--json']);
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/broken at event 3: event 3 was edited/);
  });

  it('catches a deleted event, a forged event and a rewritten block', async () => {
    let db = await storeWithHistory();
    await tamper(db, 'DELETE FROM ledger_events WHERE id = 4');
    let r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/event 4 is missing/);

    db = await storeWithHistory();
    await tamper(db, "INSERT INTO ledger_events (id, profile_id, channel, action, source, actor, occurred_at) VALUES (5, 1, 'email', 'optin', 'operator', 'x', 'now')");
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/event 5 was added outside the tool/);

    db = await storeWithHistory();
    await tamper(db, "UPDATE ledger_blocks SET hash = 'f' || substr(hash, 2) WHERE id = 2");
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/block 2 no longer matches its hash|does not follow/);
  });
});

function raw2fk(file: string) {
  const raw = new Database(file, { readonly: true });
  const rows = raw.pragma('foreign_key_check');
  raw.close();
  return rows;
}

describe('backup', () => {
  it('writes a checked copy and refuses to overwrite', async () => {
    const db = await storeWithHistory();
    const out = join(tempDir(), 'copy.db');
    const r = await runCli(['--db', db, 'backup', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ path: out, profiles: 2, events: 4 });
    expect((await runJson(out, ['profile', 'show', '1', '--json'])).optOut.email).toBe(true);
    const again = await runCli(['--db', db, 'backup', out]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('takes a consistent copy while another process writes', async () => {
    const db = await storeWithHistory();
    const dir = tempDir();
    // A writer in another process, going through consent's own store code.
    const script = join(dir, 'writer.mjs');
    writeFileSync(
      script,
      `import { openStore } from ${JSON.stringify(join(process.cwd(), 'dist/store/index.js'))};
const store = await openStore(process.argv[2]);
const flags = ['email', 'sms', 'phone', 'postal', 'fax', 'push'];
let i = 0;
process.stdout.write('ready\\n');
for (;;) {
  const p = await store.addProfile({ email: 'w' + i + '@x.io', phone: null, firstName: null, lastName: null }, new Date().toISOString());
  await store.applyConsent([{ profileId: p.id, wanted: { [flags[i % 6]]: true } }], { source: 'test', actor: 'writer', occurredAt: new Date().toISOString() });
  i++;
  process.stdout.write('wrote ' + i + '\\n');
}`,
    );
    const writer = spawn(process.execPath, [script, db], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Wait until the writer has committed a few profiles of its own (a fixed
    // sleep was not enough on a loaded machine): the copies below must each
    // fall in the middle of its writes.
    await new Promise<void>((resolve, reject) => {
      let lines = 0;
      writer.stdout!.on('data', (chunk: Buffer) => {
        lines += chunk.toString().split('\n').length - 1;
        if (lines >= 4) resolve();
      });
      writer.once('exit', (code) => reject(new Error(`the writer process exited early (${code}); is dist/ built?`)));
    });
    const copies: string[] = [];
    try {
      for (let k = 0; k < 3; k++) {
        const out = join(dir, `copy${k}.db`);
        const r = await runCli(['--db', db, 'backup', out, '--json']);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        copies.push(out);
      }
    } finally {
      writer.kill('SIGKILL');
    }
    for (const out of copies) {
      const raw = new Database(out, { readonly: true });
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      // Adding a profile and opting it out are two transactions: a snapshot may
      // fall between them for the last profile, never anywhere else.
      const { n } = raw.prepare('SELECT count(*) AS n FROM profiles').get() as { n: number };
      const { e } = raw.prepare("SELECT count(*) AS e FROM ledger_events WHERE source = 'test'").get() as { e: number };
      raw.close();
      expect(n).toBeGreaterThan(2);
      expect([n - 2, n - 3]).toContain(e);
      expect(raw2fk(out)).toEqual([]);
      expect((await runCli(['--db', out, 'ledger', 'verify'])).code).toBe(0);
    }
  });
});
});
