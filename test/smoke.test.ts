import { describe, expect, it } from 'vitest';
import { runCli, tempDb, runJson } from './helpers/run-cli.js';

describe('smoke', () => {
  it('adds and shows a profile', async () => {
    const db = tempDb();
    const added = await runJson(db, ['profile', 'add', '--email', 'A@B.co', '--json']);
    expect(added.email).toBe('a@b.co');
    const r = await runCli(['--db', db, 'profile', 'show', 'a@b.co', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).id).toBe(added.id);
  });
});
