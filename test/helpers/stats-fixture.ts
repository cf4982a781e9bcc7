/**
 * The overview's fixture (test/stats-report*.test.ts), built through the
 * public surface on a backend: an import (2026-05-20), operator opt-outs and
 * an opt-in, a suppression, services (one pending), a one-click POST to the
 * real server (2026-06-01), an SMS STOP, a mailbox provider's complaint and an
 * erasure (2026-06-10, NOW).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { serverFixture } from './landing-server.js';
import { rawSql } from './raw-store.js';
import { runCli, tempDir, type Backend } from './run-cli.js';

/** The CLI's clock for the fixture's changes and the overview (the server's clock is 2026-06-01T10:00Z). */
export const NOW = new Date('2026-06-10T12:00:00.000Z');
const IMPORTED = new Date('2026-05-20T09:00:00.000Z');

/** The fixture of this file, on a backend; returns the store and a CLI at NOW. */
export async function statsFixture(backend: Backend) {
  const f = await serverFixture({ backend }); // ann (sms opted out on 2026-01-02, outside any period) and bob; pages prefs, stop
  const dir = tempDir();
  const atTime = async (now: Date, ...argv: string[]) => {
    const r = await runCli(['--db', f.db, ...argv], { now, env: { CONSENT_ACTOR: 'op' } });
    if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  };
  const at = (...argv: string[]) => atTime(NOW, ...argv);
  const json = async (...argv: string[]) => JSON.parse((await at(...argv)).stdout);
  const csv = join(dir, 'people.csv');
  writeFileSync(
    csv,
    'email,phone,optout_all,optout_email\nc1@x.io,,0,1\nc2@x.io,+33633333333,1,0\nc3@x.io,+33611111111,0,0\nc4@x.io,+33622222222,0,0\n',
  );
  await atTime(IMPORTED, 'profile', 'import', csv); // 2 import opt-outs (c1 email, c2 all), in the week of 2026-05-18
  await at('profile', 'optout', 'bob@example.com', '--channel', 'postal'); // operator opt-out
  await at('profile', 'optin', 'ann@example.com', '--channel', 'sms'); // operator opt-in
  await at('suppression', 'add', 'c3@x.io', '--reason', 'hard-bounce');
  await at('service', 'create', 'news', '--label', 'News');
  await at('service', 'create', 'digest', '--label', 'Digest', '--double-opt-in');
  await at('profile', 'subscribe', 'ann@example.com', 'news');
  await at('profile', 'subscribe', 'bob@example.com', 'news');
  await at('profile', 'subscribe', 'c3@x.io', 'digest'); // pending
  const c4 = await f.link('stop', 'c4@x.io');
  const posted = await fetch(`${f.url}${c4.oneClickUrl}`, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect(posted.status).toBe(200); // one-click: c4 opted out of all (server clock, 2026-06-01)
  await at('sms', 'inbound', '--from', '+33611111111', '--body', 'STOP'); // c3 opted out of sms
  const bobLink = await json('landing', 'link', 'stop', '--profile', 'bob@example.com', '--base-url', 'https://pages.shop.example', '--json');
  const complaint = readFileSync(join(process.cwd(), 'fixtures/feedback/arf-complaint.eml.template'), 'utf8')
    .replace('{{ONE_CLICK_URL}}', bobLink.oneClickUrl)
    .replace('{{REPORT_ID}}', 'fbl-stats');
  writeFileSync(join(dir, 'fbl.eml'), complaint);
  await at('feedback', 'ingest', join(dir, 'fbl.eml')); // bob opted out of email, his email suppressed (complaint)
  await at('profile', 'erase', 'c2@x.io', '--yes', '--reason', 'GDPR request 42');
  return { f, at, json };
}

/** A survey answer for a profile's last opt-out, as shared decision 3 shapes it. */
export async function seedReason(db: string, email: string, code: string, at: string) {
  const [p] = await rawSql(db, 'SELECT id FROM profiles WHERE email = ?', [email]);
  const [e] = await rawSql(db, "SELECT max(id) AS id FROM ledger_events WHERE profile_id = ? AND action = 'optout'", [p.id]);
  // The next id as the stores assign it (PostgreSQL's column has no default).
  await rawSql(db, "INSERT INTO ledger_events (id, profile_id, channel, action, source, actor, evidence, occurred_at) VALUES (?, ?, 'all', 'reason', 'one-click', 'subject', ?, ?)", [
    Number(e.id) + 1000,
    p.id,
    JSON.stringify({ reasonCode: code, text: '</script><script>alert(1)</script>', forEvent: Number(e.id) }),
    at,
  ]);
}

