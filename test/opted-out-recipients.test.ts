/**
 * Lists handed to a sending system never contain someone who may not be
 * contacted, and commands that record a wish an opt-out still overrides
 * (subscribe, optin) say so plainly.
 */
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

async function people(db: string, emails: string[]) {
  for (const email of emails) await runJson(db, ['profile', 'add', '--email', email, '--json']);
}

describe('service confirmations leaves out those who may not be contacted', () => {
  it('leaves out pending subscribers opted out of all or of the service channel, and counts them on stderr', async () => {
    const db = (await tempStore(backend));
    await people(db, ['ok@x.io', 'all@x.io', 'noemail@x.io', 'nosms@x.io', 'ok2@x.io']);
    await runJson(db, ['service', 'create', 'news', '--label', 'News', '--double-opt-in', '--json']);
    await runJson(db, ['service', 'create', 'flash', '--label', 'Flash', '--channel', 'sms', '--double-opt-in', '--json']);
    for (const p of ['ok@x.io', 'all@x.io', 'noemail@x.io', 'nosms@x.io', 'ok2@x.io']) {
      for (const s of ['news', 'flash']) expect((await runCli(['--db', db, 'profile', 'subscribe', p, s])).code).toBe(0);
    }
    // Opted out after subscribing, as happens: the subscriptions stay pending.
    expect((await runCli(['--db', db, 'profile', 'optout', 'all@x.io', '--all'])).code).toBe(0);
    expect((await runCli(['--db', db, 'profile', 'optout', 'noemail@x.io', '--channel', 'email'])).code).toBe(0);
    expect((await runCli(['--db', db, 'profile', 'optout', 'nosms@x.io', '--channel', 'sms'])).code).toBe(0);

    const news = await runCli(['--db', db, 'service', 'confirmations', 'news', '--base-url', 'https://p.example.com']);
    expect(news.code).toBe(0);
    const rows = news.stdout.trim().split('\n');
    expect(rows[0]).toBe('id,email,service,confirmUrl');
    expect(rows.slice(1).map((l) => l.split(',')[1])).toEqual(['ok@x.io', 'nosms@x.io', 'ok2@x.io']);
    expect(news.stderr).toContain('3 confirmation link(s) for pending subscriptions to news.');
    expect(news.stderr).toContain('Left out 2 pending subscribers who may not be contacted on email (opted out of email or of all)');

    const flash = await runCli(['--db', db, 'service', 'confirmations', 'flash', '--format', 'jsonl']);
    expect(flash.code).toBe(0);
    const lines = flash.stdout.trim().split('\n').map((l) => JSON.parse(l) as { email: string });
    expect(lines.map((l) => l.email)).toEqual(['ok@x.io', 'noemail@x.io', 'ok2@x.io']);
    expect(flash.stderr).toContain('Left out 2 pending subscribers who may not be contacted on sms (opted out of sms or of all)');

    // They are still pending (nothing was changed), and come back once the opt-out is cleared.
    const all = await runJson(db, ['profile', 'show', 'all@x.io', '--json']);
    expect(all.subscriptions.map((s: { status: string }) => s.status)).toEqual(['pending', 'pending']);
    expect((await runCli(['--db', db, 'profile', 'optin', 'all@x.io', '--all'])).code).toBe(0);
    const again = await runCli(['--db', db, 'service', 'confirmations', 'news']);
    expect(again.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[1])).toEqual(['ok@x.io', 'all@x.io', 'nosms@x.io', 'ok2@x.io']);
    expect(again.stderr).toContain('Left out 1 pending subscriber who may not be contacted on email');
    // No one left out: no such sentence.
    expect((await runCli(['--db', db, 'profile', 'optin', 'noemail@x.io', '--channel', 'email'])).code).toBe(0);
    const none = await runCli(['--db', db, 'service', 'confirmations', 'news']);
    expect(none.stdout.trim().split('\n')).toHaveLength(6);
    expect(none.stderr).not.toMatch(/Left out/);
  });
});

describe('profile subscribe of someone opted out', () => {
  it('records the subscription, and says plainly that the opt-out of all stops it, and how to clear it', async () => {
    const db = (await tempStore(backend));
    await people(db, ['ann@x.io']);
    await runJson(db, ['service', 'create', 'offers', '--label', 'Offers', '--json']);
    await runCli(['--db', db, 'profile', 'optout', 'ann@x.io', '--all']);
    const r = await runCli(['--db', db, 'profile', 'subscribe', 'ann@x.io', 'offers', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      profileId: 1, service: 'offers', before: null, after: 'subscribed', action: 'subscribe', receiving: false, blockedBy: ['all'], suppressedBy: null,
    });
    expect(r.stderr).toContain(
      'ann@x.io is opted out of all channels ("no longer contact by any channel"): they will not receive offers (email) while that opt-out stands.',
    );
    expect(r.stderr).toContain('consent profile optin ann@x.io --all');
    // Recorded all the same: the person's wish for the service.
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).subscriptions).toEqual([
      { service: 'offers', status: 'subscribed', since: '2026-01-02T03:04:05.000Z' },
    ]);
    // Human form: the same sentence.
    const again = await runCli(['--db', db, 'profile', 'subscribe', 'ann@x.io', 'offers']);
    expect(again.stderr).toMatch(/Nothing changed[^\n]*\n[^\n]*will not receive offers \(email\) while that opt-out stands/);
  });

  it('names the channel, or both flags, and says a pending one gets no confirmation mail either', async () => {
    const db = (await tempStore(backend));
    await people(db, ['bob@x.io', 'cat@x.io', 'dan@x.io']);
    await runJson(db, ['service', 'create', 'news', '--label', 'News', '--double-opt-in', '--json']);
    await runCli(['--db', db, 'profile', 'optout', 'bob@x.io', '--channel', 'email']);
    await runCli(['--db', db, 'profile', 'optout', 'cat@x.io', '--channel', 'all,email']);
    const bob = await runCli(['--db', db, 'profile', 'subscribe', 'bob@x.io', 'news', '--json']);
    expect(JSON.parse(bob.stdout)).toMatchObject({ after: 'pending', receiving: false, blockedBy: ['email'] });
    expect(bob.stderr).toContain('bob@x.io is opted out of email: they will not receive news (email), nor its confirmation mail, while that opt-out stands.');
    expect(bob.stderr).toContain('consent profile optin bob@x.io --channel email');
    const cat = await runCli(['--db', db, 'profile', 'subscribe', 'cat@x.io', 'news', '--json']);
    expect(JSON.parse(cat.stdout)).toMatchObject({ blockedBy: ['all', 'email'] });
    expect(cat.stderr).toContain('while those opt-outs stand');
    expect(cat.stderr).toContain('consent profile optin cat@x.io --channel all,email');
    // Someone reachable: no such sentence; pending is not receiving yet, but nothing blocks them.
    const dan = await runCli(['--db', db, 'profile', 'subscribe', 'dan@x.io', 'news', '--json']);
    expect(JSON.parse(dan.stdout)).toMatchObject({ after: 'pending', receiving: false, blockedBy: [] });
    expect(dan.stderr).not.toMatch(/opted out/);
  });
});

describe('profile optin of a channel while all is set', () => {
  it('says that all still blocks them and how to clear it', async () => {
    const db = (await tempStore(backend));
    await people(db, ['ann@x.io']);
    await runCli(['--db', db, 'profile', 'optout', 'ann@x.io', '--all']);
    const r = await runCli(['--db', db, 'profile', 'optin', 'ann@x.io', '--channel', 'email']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Nothing changed: ann@x.io already had those flags.');
    expect(r.stderr).toContain(
      'ann@x.io is opted out of all channels ("no longer contact by any channel"): they are still not reachable on email (all wins over every channel)',
    );
    expect(r.stderr).toContain('clear it with: consent profile optin ann@x.io --all');

    // Also when the opt-in did clear the channel's own flag.
    await runCli(['--db', db, 'profile', 'optout', 'ann@x.io', '--channel', 'sms']);
    const sms = await runCli(['--db', db, 'profile', 'optin', 'ann@x.io', '--channel', 'sms,postal', '--json']);
    expect(JSON.parse(sms.stdout).changes).toEqual([{ channel: 'sms', action: 'optin' }]);
    expect(sms.stderr).toContain('they are still not reachable on sms, postal (all wins over every channel)');

    // Clearing all itself: reachable again, nothing more to say about email.
    const all = await runCli(['--db', db, 'profile', 'optin', 'ann@x.io', '--all']);
    expect(all.stderr).not.toMatch(/still not reachable|stays opted out/);
    expect((await runJson(db, ['profile', 'show', '1', '--json'])).reachable.email).toBe(true);
    // An opt-in that makes them reachable: nothing more to say.
    await runCli(['--db', db, 'profile', 'optout', 'ann@x.io', '--channel', 'email']);
    const plain = await runCli(['--db', db, 'profile', 'optin', 'ann@x.io', '--channel', 'email']);
    expect(plain.stdout).toBe('ann@x.io: optin email.\n');
    expect(plain.stderr).toBe('');
  });

  it('says which channel flags remain after clearing all', async () => {
    const db = (await tempStore(backend));
    await people(db, ['ann@x.io']);
    await runCli(['--db', db, 'profile', 'optout', 'ann@x.io', '--channel', 'all,sms,phone']);
    const r = await runCli(['--db', db, 'profile', 'optin', 'ann@x.io', '--all']);
    expect(r.stdout).toBe('ann@x.io: optin all.\n');
    expect(r.stderr).toContain('ann@x.io stays opted out of sms, phone');
    expect(r.stderr).toContain('consent profile optin ann@x.io --channel sms,phone');
  });
});

describe('landing links', () => {
  // (`landing links --reachable c` against `profile list --reachable c`: reachability-partition.test.ts.)
  it('its help says that without --reachable it lists everyone, and that mailing needs --reachable', async () => {
    const r = await runCli(['landing', 'links', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/without --reachable it lists everyone, including those who may not be\s+contacted/);
    expect(r.stdout).toContain('To mail the links, use --reachable <channel>.');
  });
});
});
