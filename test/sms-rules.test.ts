/**
 * Issue #14's rules through the command line (`sms inbound`, `sms review`,
 * `sms log`, `sms settings`), on both stores. The webhook (same rules, plus
 * the signature and TwiML) is test/sms-webhook.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const ANN = '+33612345678';
const BOB = '+33698765432';

describe.each(BACKENDS)('SMS replies on %s', (backend) => {
  /** A store with ann and her partner sharing ann's phone, and bob. */
  async function store() {
    const db = await tempStore(backend);
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--phone', ANN, '--json']);
    await runJson(db, ['profile', 'add', '--email', 'partner@example.com', '--phone', ANN, '--json']);
    await runJson(db, ['profile', 'add', '--email', 'bob@example.com', '--phone', BOB, '--json']);
    const sms = (from: string, body: string, ...extra: string[]) => runJson(db, ['sms', 'inbound', '--from', from, '--body', body, '--json', ...extra]);
    const optOut = async (ref: string) => (await runJson(db, ['profile', 'show', ref, '--json'])).optOut.sms as boolean;
    const verify = async () => expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
    return { db, sms, optOut, verify };
  }

  it('reads every keyword family whatever the case, accents, punctuation and inner spaces', async () => {
    const { sms, verify } = await store();
    const cases: [string, string, string][] = [
      ['STOP', 'optout', 'STOP'],
      ['  stop.  ', 'optout', 'STOP'],
      ['Arrêt !', 'optout', 'ARRET'],
      ['« ARRÊTER »', 'optout', 'ARRETER'],
      ['désabonner', 'optout', 'DESABONNER'],
      ['Désinscrire...', 'optout', 'DESINSCRIRE'],
      ['opt-out', 'optout', 'OPT OUT'],
      ['OptOut', 'optout', 'OPTOUT'],
      ['stop   all', 'optout', 'STOP ALL'],
      ['Unsubscribe!', 'optout', 'UNSUBSCRIBE'],
      ['cancel', 'optout', 'CANCEL'],
      ['End', 'optout', 'END'],
      ['quit', 'optout', 'QUIT'],
      ['REVOKE', 'optout', 'REVOKE'],
      ['stopall', 'optout', 'STOPALL'],
      ['start', 'optin', 'START'],
      ['Un-stop', 'optin', 'UN STOP'],
      ['UNSTOP', 'optin', 'UNSTOP'],
      ['yes!', 'optin', 'YES'],
      ['Réabonner', 'optin', 'REABONNER'],
      ['réinscrire.', 'optin', 'REINSCRIRE'],
      ['help', 'help', 'HELP'],
      ['Info ?', 'help', 'INFO'],
      ['please stop', 'review', null as unknown as string],
      ['Stop texting me', 'review', null as unknown as string],
      ["Merci de ne plus m'envoyer de messages", 'review', null as unknown as string],
      ['oui', 'ignored', null as unknown as string],
      ['see you tomorrow', 'ignored', null as unknown as string],
    ];
    const kinds = new Map<string, string>();
    for (const [body, intent, keyword] of cases) {
      // An unknown number: every family is read without touching a profile (a START there changes nothing).
      const r = await sms('+33700000001', body, '--dry-run');
      const outcome = r.results[0].outcome as string;
      const family = outcome === 'suppressed' ? 'optout' : outcome === 'optin-refused' ? 'optin' : outcome;
      kinds.set(body, family);
      expect({ body, family, keyword: r.results[0].keyword }).toEqual({ body, family: intent, keyword });
    }
    expect(new Set(kinds.values())).toEqual(new Set(['optout', 'optin', 'help', 'review', 'ignored']));
    await verify();
  });

  it('STOP opts every profile with the number out of sms, with the proof; the number never reaches the ledger', async () => {
    const { db, sms, optOut, verify } = await store();
    const r = await sms(ANN, 'Stop', '--to', '36111', '--message-id', 'SM100', '--at', '2026-06-01T09:00:00Z');
    expect(r).toMatchObject({ recorded: 1, changes: 2, outcomes: { optout: 1 } });
    expect(r.results[0].reply).toMatch(/no more text messages/);
    expect([await optOut('ann@example.com'), await optOut('partner@example.com'), await optOut('bob@example.com')]).toEqual([true, true, false]);
    const [e] = await runJson(db, ['profile', 'history', 'ann@example.com', '--json']);
    expect(e).toMatchObject({ channel: 'sms', action: 'optout', source: 'sms:36111', actor: 'subject' });
    expect(e.evidence).toMatchObject({ messageId: 'SM100', receivedAt: '2026-06-01T09:00:00.000Z', keyword: 'STOP' });
    expect(e.evidence.from).toMatch(/^[0-9a-f]{64}$/);
    // Neither the ledger nor the log holds the number, in any form.
    const all = JSON.stringify([await runJson(db, ['profile', 'history', 'partner@example.com', '--json']), await runJson(db, ['sms', 'log', '--json'])]);
    expect(all).not.toContain('612345678');
    await verify();
  });

  it('STOP from a number no profile has suppresses it: a profile imported later with it is unreachable by sms; START lifts it', async () => {
    const { db, sms, verify } = await store();
    const NEW = '+33611112222';
    const r = await sms(NEW, 'STOP', '--to', '36111');
    expect(r).toMatchObject({ changes: 1, outcomes: { suppressed: 1 } });
    expect(r.results[0].reply).toMatch(/no more text messages/);
    const dir = tempDir();
    const csv = join(dir, 'new.csv');
    writeFileSync(csv, `email,phone\ncarl@example.com,${NEW}\ndora@example.com,+33633334444\n`);
    expect((await runCli(['--db', db, 'profile', 'import', csv])).code).toBe(0);
    const emails = async (flag: string) => (await runJson(db, ['profile', 'list', flag, 'sms', '--json'])).map((p: { email: string }) => p.email);
    expect(await emails('--unreachable')).toEqual(['carl@example.com']);
    expect(await emails('--reachable')).not.toContain('carl@example.com');
    expect(await emails('--reachable')).toContain('dora@example.com');
    // Carl's own flag is untouched (the list, not the profile, stops the texts), so START lifts the entry and nothing else.
    const start = await sms(NEW, 'start');
    expect(start).toMatchObject({ changes: 1, outcomes: { optin: 1 } });
    expect(await emails('--unreachable')).toEqual([]);
    await verify();
  });

  it('START clears an opt-out made by an SMS reply, never an operator\'s', async () => {
    const { db, sms, optOut, verify } = await store();
    await runCli(['--db', db, 'profile', 'optout', 'bob@example.com', '--channel', 'sms', '--reason', 'asked on the phone']);
    const refused = await sms(BOB, 'START');
    expect(refused).toMatchObject({ changes: 0, outcomes: { 'optin-refused': 1 } });
    expect(refused.results[0].reply).toBeNull();
    expect(await optOut('bob@example.com')).toBe(true);

    await sms(ANN, 'STOP');
    const cleared = await sms(ANN, 'start');
    expect(cleared).toMatchObject({ changes: 2, outcomes: { optin: 1 } });
    expect(cleared.results[0].reply).toMatch(/again/);
    expect([await optOut('ann@example.com'), await optOut('partner@example.com')]).toEqual([false, false]);
    const [e] = await runJson(db, ['profile', 'history', 'ann@example.com', '--json']);
    expect(e).toMatchObject({ channel: 'sms', action: 'optin', source: 'sms:cli', actor: 'subject', evidence: { keyword: 'START' } });
    await verify();
  });

  it('HELP changes nothing and answers the help text the operator set, with the organisation', async () => {
    const { db, sms, verify } = await store();
    const before = (await runJson(db, ['ledger', 'verify', '--json'])).events;
    const set = await runJson(db, ['sms', 'settings', '--organisation', 'Acme', '--help-text', '{organisation}: text STOP to stop, or call 01 23 45 67 89.', '--json']);
    expect(set).toMatchObject({ organisation: 'Acme', helpText: 'Acme: text STOP to stop, or call 01 23 45 67 89.', defaults: { helpText: false } });
    expect((await runJson(db, ['sms', 'settings', '--json'])).helpText).toBe(set.helpText);
    const r = await sms(ANN, 'HELP');
    expect(r).toMatchObject({ changes: 0, outcomes: { help: 1 } });
    expect(r.results[0].reply).toBe('Acme: text STOP to stop, or call 01 23 45 67 89.');
    expect((await runJson(db, ['ledger', 'verify', '--json'])).events).toBe(before);
    await verify();
  });

  it('the same message id twice is recorded once and answers the same', async () => {
    const { db, sms, verify } = await store();
    const first = await sms(ANN, 'STOP', '--message-id', 'SM7');
    await runCli(['--db', db, 'profile', 'optin', 'ann@example.com', '--channel', 'sms']);
    const again = await sms(ANN, 'STOP', '--message-id', 'SM7');
    expect(again).toMatchObject({ recorded: 0, duplicates: 1, changes: 0 });
    expect(again.results[0]).toMatchObject({ id: first.results[0].id, duplicate: true, reply: first.results[0].reply });
    expect((await runJson(db, ['profile', 'show', 'ann@example.com', '--json'])).optOut.sms).toBe(false);
    expect(await runJson(db, ['sms', 'log', '--json'])).toHaveLength(1);
    await verify();
  });

  it('look-alikes wait in the review queue; --optout applies the opt-out rule, --dismiss nothing, both recorded', async () => {
    const { db, sms, optOut, verify } = await store();
    await sms(ANN, 'please stop');
    await sms(BOB, "ne plus m'envoyer");
    const queue = await runJson(db, ['sms', 'review', '--json']);
    expect(queue.map((m: { body: string }) => m.body)).toEqual(["ne plus m'envoyer", 'please stop']);
    expect([await optOut('ann@example.com'), await optOut('bob@example.com')]).toEqual([false, false]);

    const [bobs, anns] = queue;
    const decided = await runJson(db, ['--actor', 'olga', 'sms', 'review', String(anns.id), '--optout', '--json']);
    expect(decided).toMatchObject({ profiles: 2, message: { changes: 2, review: { status: 'optout', decidedBy: 'olga' } } });
    expect([await optOut('ann@example.com'), await optOut('partner@example.com')]).toEqual([true, true]);
    const [e] = await runJson(db, ['profile', 'history', 'ann@example.com', '--json']);
    expect(e).toMatchObject({ action: 'optout', actor: 'olga', reason: `review of SMS message ${anns.id}` });

    expect((await runCli(['--db', db, 'sms', 'review', String(bobs.id), '--dismiss'])).code).toBe(0);
    expect(await optOut('bob@example.com')).toBe(false);
    expect(await runJson(db, ['sms', 'review', '--json'])).toEqual([]);
    const again = await runCli(['--db', db, 'sms', 'review', String(bobs.id), '--optout']);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already decided \(dismissed by tester\)/);
    // A number no profile has, opted out through the queue: a profile imported later with it is unreachable by sms.
    await sms('+33699999999', 'please stop texting me');
    const [stranger] = await runJson(db, ['sms', 'review', '--json']);
    expect((await runCli(['--db', db, 'sms', 'review', String(stranger.id), '--optout'])).code).toBe(0);
    const file = join(tempDir(), 'later.csv');
    writeFileSync(file, 'email,phone\nlater@example.com,+33699999999\n');
    expect((await runCli(['--db', db, 'profile', 'import', file])).code).toBe(0);
    expect(await runJson(db, ['profile', 'show', 'later@example.com', '--json'])).toMatchObject({ reachable: { sms: false, email: true } });
    await verify();
  });

  it('a file is one atomic change: a bad line names its line and field and records nothing', async () => {
    const { db, optOut, verify } = await store();
    const dir = tempDir();
    const bad = join(dir, 'replies.csv');
    writeFileSync(bad, `from,body,received_at,to,message_id\n${ANN},STOP,2026-06-01T08:00:00Z,36111,SMa\n+33 12,STOP,2026-06-01T08:01:00Z,36111,SMb\n${BOB},STOP,yesterday,,SMc\n`);
    const r = await runCli(['--db', db, 'sms', 'inbound', '--file', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/replies\.csv: 2 of 3 lines are invalid, so nothing was recorded/);
    expect(r.stderr).toMatch(/line 3, from: "\+33 12" is not a possible number/);
    expect(r.stderr).toMatch(/line 4, received_at: "yesterday" is not an ISO-8601 time/);
    expect(await optOut('ann@example.com')).toBe(false);
    expect(await runJson(db, ['sms', 'log', '--json'])).toEqual([]);

    const good = join(dir, 'replies.jsonl');
    writeFileSync(good, [
      { from: ANN, body: 'STOP', received_at: '2026-06-01T08:00:00Z', to: '36111', message_id: 'SMa' },
      { from: ANN, body: 'START', received_at: '2026-06-01T08:05:00Z', to: '36111', message_id: 'SMb' },
      { from: BOB, body: 'Arrêt', received_at: '2026-06-01T08:06:00Z', message_id: 'SMc' },
    ].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const dry = await runJson(db, ['sms', 'inbound', '--file', good, '--dry-run', '--json']);
    expect(dry).toMatchObject({ dryRun: true, recorded: 0, changes: 0, outcomes: { optout: 2, optin: 1 } });
    expect(await runJson(db, ['sms', 'log', '--json'])).toEqual([]);
    const s = await runJson(db, ['sms', 'inbound', '--file', good, '--json']);
    // STOP then START within the file: read in order, as the person meant them.
    expect(s).toMatchObject({ recorded: 3, changes: 5, outcomes: { optout: 2, optin: 1 } });
    expect(s.results.map((x: { line: number }) => x.line)).toEqual([1, 2, 3]);
    expect([await optOut('ann@example.com'), await optOut('bob@example.com')]).toEqual([false, true]);
    await verify();
  });

  it('bodies are removed after the retention period (on the next message, or sms log --purge); review items keep theirs until decided', async () => {
    const { db } = await store();
    const day = (n: number) => ({ now: new Date(Date.UTC(2026, 5, n, 12)) });
    await runJson(db, ['sms', 'settings', '--retention-days', '10', '--json']);
    await runJson(db, ['sms', 'inbound', '--from', ANN, '--body', 'STOP', '--json'], day(1));
    await runJson(db, ['sms', 'inbound', '--from', BOB, '--body', 'please stop', '--json'], day(1));
    await runJson(db, ['sms', 'inbound', '--from', BOB, '--body', 'HELP', '--json'], day(5));
    const bodies = async () => (await runJson(db, ['sms', 'log', '--json'])).map((m: { body: string | null }) => m.body);
    expect(await bodies()).toEqual(['HELP', 'please stop', 'STOP']);
    // Day 12: the first STOP is past 10 days; the review item waits for its decision.
    const purged = await runCli(['--db', db, 'sms', 'log', '--purge', '--json'], day(12));
    expect(purged.stderr).toMatch(/Removed the bodies of 1 message received more than 10 days ago/);
    expect(JSON.parse(purged.stdout).map((m: { body: string | null }) => m.body)).toEqual(['HELP', 'please stop', null]);
    // Day 16: the next message removes the HELP's body too.
    await runJson(db, ['sms', 'inbound', '--from', ANN, '--body', 'hello', '--json'], day(16));
    expect(await bodies()).toEqual(['hello', null, 'please stop', null]);
  });
});
