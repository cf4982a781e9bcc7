#!/usr/bin/env node
// `npm run bench:asof [-- --rows 1000000] [-- --reuse]`: the audience as it stood at a past
// moment (issue 15, `profile export --reachable email --as-of T`) against
// today's (`profile export --reachable email`), on a SQLite store built the
// way users build one: `consent profile import` of a realistic export
// (bench/realistic.mjs: a quarter opted out per channel, quoted names), then,
// a few seconds later, the realistic update file (5 % new rows, some flags
// changed, 2 % new phone numbers) and a few suppressions (three of them the
// old numbers of people whose phone changed). T is a time between the two imports, so the
// replay must leave the update's events out. Both exports go to a file; the
// figures are wall seconds and peak RSS (GNU time), and the ratio as-of / now,
// for email and for sms (whose replay also takes the phone a profile had then).
// The replay is SQL (src/store/shared/as-of-sql.ts): per profile an index
// descent of ledger_events_profile for the channel's and `all`'s last flag
// event up to N, and of ledger_events_address for its address key.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeRealisticCsv } from './realistic.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/consent.js');
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, reuse: { type: 'boolean', default: false } } });
const ROWS = Number(values.rows);
const say = (m) => process.stderr.write(m + '\n');
if (spawnSync('/usr/bin/time', ['--version']).error) {
  say('bench:asof needs GNU time: apt-get install time');
  process.exit(2);
}
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const out = join(root, 'bench/out/asof');
const db = join(out, 'store.db');
// --reuse: the store and the time of the last run (only the two exports are measured again).
const reuse = values.reuse && existsSync(join(out, 'mid.txt'));
if (!reuse) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
}

/** Wall seconds and peak RSS (MiB) of a consent command. */
function consent(args) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, bin, '--db', db, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CONSENT_ACTOR: 'bench' },
    maxBuffer: 1 << 26,
  });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`consent ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const rss = Number(r.stderr.trim().split('\n').pop()) / 1024;
  return { secs, rss, stdout: r.stdout, stderr: r.stderr };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const n = (x) => x.toLocaleString('en');

let mid;
if (reuse) mid = readFileSync(join(out, 'mid.txt'), 'utf8').trim();
else {
  say(`Writing ${n(ROWS)} realistic profiles and the update file …`);
  const first = join(out, 'people.csv');
  const update = join(out, 'update.csv');
  await writeRealisticCsv(first, ROWS);
  await writeRealisticCsv(update, ROWS, { update: true });
  say('consent profile import (the first load) …');
  const imp = consent(['profile', 'import', first, '--json']);
  say(`  ${JSON.parse(imp.stdout).profiles} profiles in ${imp.secs.toFixed(1)} s`);
  await sleep(1500);
  mid = new Date().toISOString();
  writeFileSync(join(out, 'mid.txt'), mid);
  await sleep(1500);
  say('consent profile import (the update, later) and a few suppressions …');
  consent(['profile', 'import', update, '--allow-optin', '--json']);
  const lines = readFileSync(first, 'utf8').split('\n');
  const someone = lines.slice(1, 4).map((l) => l.split(',')[0]);
  for (const e of someone) consent(['suppression', 'add', e, '--reason', 'hard-bounce']);
  // The old numbers of three people whose phone the update changed (realistic.mjs: k % 50 === 19): suppressed
  // now, they were those people's numbers at the moment asked, so the replay must match them by the phone then.
  const moved = lines
    .slice(1)
    .map((l) => l.split(','))
    .filter(([e, ph]) => ph && Number(/\.(\d+)@/.exec(e ?? '')?.[1]) % 50 === 19)
    .slice(0, 3);
  for (const [, ph] of moved) consent(['suppression', 'add', ph, '--reason', 'complaint']);
}

const count = (r) => /Exported (\d+)/.exec(r.stderr)?.[1];
console.log(`store: ${n(ROWS)} realistic profiles (+ the update, 2 % of them with a new phone), SQLite; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
// email: the replay of flags and suppressions; sms: also the phone each profile had then (the update's changes of phone).
for (const channel of ['email', 'sms']) {
  say(`profile export --reachable ${channel} --as-of ${mid} …`);
  const past = consent(['profile', 'export', '--reachable', channel, '--as-of', mid, '--out', join(out, `past-${channel}.csv`)]);
  say(`profile export --reachable ${channel} (today) …`);
  const now = consent(['profile', 'export', '--reachable', channel, '--out', join(out, `now-${channel}.csv`)]);
  console.log(`${channel} as of ${mid}: ${n(Number(count(past)))} profiles in ${past.secs.toFixed(2)} s, peak RSS ${past.rss.toFixed(0)} MiB`);
  console.log(`${channel} today:        ${n(Number(count(now)))} profiles in ${now.secs.toFixed(2)} s, peak RSS ${now.rss.toFixed(0)} MiB`);
  console.log(`${channel} ratio as-of / today: ${(past.secs / now.secs).toFixed(2)}`);
}
