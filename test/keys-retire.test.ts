import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, scriptedPrompter, tempDir } from './helpers/run-cli.js';

/** A store with a published page and two keys: 1 (old) and 2 (signing). */
async function setup(): Promise<string> {
  const db = join(tempDir(), 'consent.db');
  await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
  await runJson(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop', '--json']);
  await runJson(db, ['landing', 'publish', 'stop', '--out-dir', join(tempDir(), 'public'), '--json']);
  await runJson(db, ['keys', 'rotate', '--json']);
  return db;
}

const statusOf = async (db: string, id: number) =>
  (await runJson<{ id: number; status: string }[]>(db, ['keys', 'list', '--json'])).find((k) => k.id === id)!.status;

describe('keys retire asks first: every link signed with the key stops working', () => {
  it('on a terminal: warns that every link signed with it stops working, unsubscribe links included, and asks', async () => {
    const db = await setup();
    const made = (await runJson(db, ['keys', 'list', '--json']))[0].createdAt;
    const no = scriptedPrompter([false]);
    const refused = await runCli(['--db', db, 'keys', 'retire', '1'], { tty: true, prompter: no });
    expect(no.asked).toEqual([{ kind: 'confirm', message: 'Retire key 1?', choices: undefined }]);
    expect(refused.stderr).toContain(`Every link signed with key 1 (made ${made}) will stop working`);
    expect(refused.stderr).toContain('including unsubscribe and one-click links already mailed');
    expect(refused.code).toBe(130);
    expect(refused.stdout).toBe('');
    expect(await statusOf(db, 1)).toBe('active');

    const yes = scriptedPrompter([true]);
    const done = await runCli(['--db', db, 'keys', 'retire', '1', '--json'], { tty: true, prompter: yes });
    expect(done.code).toBe(0);
    expect(yes.asked).toHaveLength(1);
    expect(JSON.parse(done.stdout)).toMatchObject({ id: 1, status: 'retired' });
    expect(await statusOf(db, 1)).toBe('retired');
  });

  it('without a terminal: exit 2 naming --yes, nothing retired; with --yes: retired without a question', async () => {
    const db = await setup();
    const r = await runCli(['--db', db, 'keys', 'retire', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(await statusOf(db, 1)).toBe('active');

    const silent = scriptedPrompter([]);
    const yes = await runCli(['--db', db, 'keys', 'retire', '1', '--yes'], { tty: true, prompter: silent });
    expect(yes.code).toBe(0);
    expect(silent.asked).toEqual([]);
    expect(await statusOf(db, 1)).toBe('retired');
  });
});
