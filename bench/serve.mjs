#!/usr/bin/env node
// bench:serve — `consent landing serve` (the built binary, its own process)
// driven by wrk (C, Debian's package) on 127.0.0.1, against a bare node:http
// server (its own process) answering every request with the very bytes of a
// personal page (the same body and headers), in the same run. Every phase is
// wrk with the same threads, connections and duration, and the same Lua script
// (bench/serve.lua), which gives every request a different person:
//   bare      GET, node:http, the personal page's bytes: the reference
//   personal  GET /prefs?t=<token>: a person's page (reads only)
//   one-click POST /stop/one-click?t=<token>, List-Unsubscribe=One-Click (RFC 8058):
//             each a durable write (synchronous=FULL) for someone not yet opted out
//   mix       a mail campaign's first hour: 90 % personal GETs, 8 % form POSTs
//             (the person's page submitted with one box changed), 2 % one-click POSTs
// Each round runs the four phases in turn; --rounds rounds (default 3), and the
// best round of each phase counts (this 2-CPU machine is shared with wrk and
// with other work; a slow spell must hit every phase alike). Every phase of
// consent gets a fresh server, warmed up by --warmup seconds of personal GETs,
// so that the commits it reports on exit are that phase's alone.
// The store is built as users build it: a realistic export (bench/realistic.mjs)
// imported with `profile import`, the links made with `landing links
// --reachable email` (a campaign mails the people it may email), and each
// person's state read back with `profile export`.
// Usage: npm run bench:serve [-- --duration 10 --rounds 3 --connections 50 --threads 2 --warmup 2 --profiles 1000000]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeRealisticCsv } from './realistic.mjs';
import { startServerProcess } from './server-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    threads: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    profiles: { type: 'string', default: '1000000' },
  },
});
const duration = Number(values.duration);
const rounds = Math.max(1, Number(values.rounds));
const connections = Number(values.connections);
const threads = Number(values.threads);
const warmup = Number(values.warmup);
const profiles = Number(values.profiles);

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(2);
}
if (spawnSync('wrk', ['-v']).error) fail('bench:serve drives the servers with wrk, which is not installed: apt-get install wrk');
if (spawnSync('sqlite3', ['-version']).error) fail('bench:serve reads the ledger with the sqlite3 shell, which is not installed: apt-get install sqlite3');

const out = join(root, 'bench/out/serve');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const db = join(out, 'consent.db');
const lua = join(root, 'bench/serve.lua');

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
const consent = (...args) => run(process.execPath, [join(root, 'bin/consent.js'), '--db', db, ...args], { CONSENT_ACTOR: 'bench' });
const sql = (q) => run('sqlite3', [db, q]).trim();
const jsonl = (text) => text.trimEnd().split('\n').map((l) => JSON.parse(l));
const n = (v) => Math.round(v).toLocaleString('en');

// The store, as users build it.
process.stderr.write(`Setting up: ${n(profiles)} realistic profiles imported, an acquisition and a blocklist page, their links…\n`);
const csv = join(out, 'profiles.csv');
await writeRealisticCsv(csv, profiles);
consent('profile', 'import', csv);
rmSync(csv);
const CHANNELS_ON_PAGE = ['email', 'sms', 'postal', 'push'];
consent('landing', 'create', 'prefs', '--type', 'acquisition', '--title', 'Your choices', '--channels', CHANNELS_ON_PAGE.join(','));
consent('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Unsubscribe');
consent('landing', 'publish', 'prefs', '--out-dir', join(out, 'public'));
consent('landing', 'publish', 'stop', '--out-dir', join(out, 'public'));
const prefsVersion = JSON.parse(consent('landing', 'show', 'prefs', '--json')).version;
const state = new Map(jsonl(consent('profile', 'export', '--reachable', 'email', '--format', 'jsonl')).map((p) => [p.id, p.optOut]));
const stopLinks = new Map(jsonl(consent('landing', 'links', 'stop', '--reachable', 'email', '--format', 'jsonl')).map((l) => [l.id, l.oneClickUrl]));
const people = jsonl(consent('landing', 'links', 'prefs', '--reachable', 'email', '--format', 'jsonl')).map((l) => ({
  id: l.id,
  url: l.url,
  token: new URL(l.url, 'http://x').searchParams.get('t'),
  optOut: state.get(l.id),
  oneClick: stopLinks.get(l.id),
}));
if (people.some((p) => !p.optOut || !p.oneClick)) throw new Error('links and export disagree on the reachable people');

/**
 * The person's page as they would submit it after changing one box: every box
 * as the page shows it (ticked = may be contacted, the default wording), one
 * channel other than email flipped. So each form POST is one ledger event.
 */
function formBody(p, i) {
  const flip = CHANNELS_ON_PAGE[1 + (i % 3)];
  const fields = [`t=${encodeURIComponent(p.token)}`, `v=${prefsVersion}`];
  for (const c of CHANNELS_ON_PAGE) {
    const ticked = !p.optOut[c];
    if (ticked !== (c === flip)) fields.push(`channel-${c}=on`);
  }
  return fields.join('&');
}

// Two disjoint pools: the first half of the people for GETs (read-only, reused
// by every run), the second half for POSTs (each used once in the whole bench).
// Person j of a pool goes to wrk thread j % threads.
const half = Math.floor(people.length / 2);
const getLines = Array.from({ length: threads }, () => []);
const postLines = Array.from({ length: threads }, () => []);
people.slice(0, half).forEach((p, j) => getLines[j % threads].push(p.url));
people.slice(half).forEach((p, j) => postLines[j % threads].push(`/prefs\t${formBody(p, j)}\t${p.oneClick}`));
for (let t = 0; t < threads; t++) {
  writeFileSync(join(out, `get.${t}.txt`), getLines[t].join('\n') + '\n');
  writeFileSync(join(out, `post.${t}.txt`), postLines[t].join('\n') + '\n');
}
const postPoolSize = people.length - half;
const postOffsets = Array.from({ length: threads }, () => 0);
let postsUsed = 0;
let wraps = 0;

/** A server in a process of its own, logging to out/<name>.log (bench/server-process.mjs). */
function startChild(name, args) {
  const logFile = join(out, `${name}.log`);
  const { url, stop } = startServerProcess(name, logFile, args);
  return { url, logFile, stop };
}

/** One wrk run; its numbers, from the BENCH line the Lua script's done() prints. */
function wrk(url, mode, secs, { reference = false } = {}) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${secs}s`, '--timeout', '10s', '-s', lua, url, '--', mode, out, postOffsets.join(',')];
  const stdout = run('wrk', args);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line.slice(6));
  if (mode !== 'get') {
    r.threads.forEach((t) => (postOffsets[t.id] = t.postPos));
    const used = r.threads.reduce((s, t) => s + t.posts, 0);
    postsUsed += used;
    r.postsSent = used;
  }
  r.rps = r.completed / (r.durationUs / 1e6);
  r.errors = r.connect + r.read + r.write + r.timeout;
  // A pool read to its end starts again: people reused. A warm-up's GETs may, and so may the bare
  // reference (it never reads the token); a measured run of consent should not.
  if (secs === duration && !reference) wraps += r.threads.reduce((s, t) => s + t.getWraps + t.postWraps, 0);
  return r;
}

/** Statuses of the requests logged since byte `from` of a serve log: { total, non2xx }. */
function loggedStatuses(logFile, from) {
  const text = readFileSync(logFile, 'utf8').slice(from);
  let total = 0;
  let non2xx = 0;
  for (const m of text.matchAll(/^(?:GET|POST|HEAD) \S+ (\d{3}) /gm)) {
    total++;
    if (m[1][0] !== '2') non2xx++;
  }
  return { total, non2xx };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const count = () => ({ events: Number(sql('SELECT count(*) FROM ledger_events')), blocks: Number(sql('SELECT count(*) FROM ledger_blocks')) });

/** One phase against a fresh consent server: warm-up GETs, the measured run, then the server's own report on exit. */
async function consentPhase(mode) {
  const server = startChild('serve', [join(root, 'bin/consent.js'), '--db', db, 'landing', 'serve', '--port', '0']);
  const url = await server.url;
  if (warmup > 0) wrk(url, 'get', warmup);
  await sleep(300); // the log of the warm-up is written in the turn after its last answer
  const from = statSync(server.logFile).size;
  const before = count();
  const r = wrk(url, mode, duration);
  await server.stop();
  const after = count();
  const log = readFileSync(server.logFile, 'utf8');
  const commits = /(\d+) changes? committed in (\d+) transactions?/.exec(log.slice(-4096));
  const logged = loggedStatuses(server.logFile, from);
  return {
    ...r,
    non2xx: logged.non2xx,
    logged: logged.total,
    events: after.events - before.events,
    blocks: after.blocks - before.blocks,
    submissions: commits ? Number(commits[1]) : null,
    commits: commits ? Number(commits[2]) : null,
  };
}

// The reference: the bytes (status line aside, which node writes itself) of a personal page.
process.stderr.write('Starting the bare node:http reference with the bytes of a personal page…\n');
const probe = startChild('probe', [join(root, 'bin/consent.js'), '--db', db, 'landing', 'serve', '--port', '0']);
const answer = await fetch(`${await probe.url}${people[0].url}`);
const pageFile = join(out, 'page.html');
writeFileSync(pageFile, Buffer.from(await answer.arrayBuffer()));
const headers = Object.fromEntries([...answer.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(k)));
await probe.stop();
writeFileSync(join(out, 'headers.json'), JSON.stringify(headers));
const bare = startChild('bare', [
  '-e',
  `const fs = require('fs');
   const body = fs.readFileSync(process.argv[1]);
   const headers = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
   const s = require('http').createServer((req, res) => { res.writeHead(200, headers); res.end(body); });
   s.listen(0, '127.0.0.1', () => process.stderr.write('http://127.0.0.1:' + s.address().port + '\\n'));
   process.on('SIGTERM', () => s.close(() => process.exit(0)));`,
  pageFile,
  join(out, 'headers.json'),
]);
const bareUrl = await bare.url;
if (warmup > 0) wrk(bareUrl, 'get', warmup);

process.stderr.write(
  `Measuring: wrk, ${threads} threads, ${connections} connections, ${duration} s per phase, ${rounds} round(s) of bare / personal / one-click / mix…\n`,
);
const phases = ['bare', 'personal', 'oneclick', 'mix'];
const best = {};
for (let round = 1; round <= rounds; round++) {
  for (const phase of phases) {
    const r = phase === 'bare' ? { ...wrk(bareUrl, 'get', duration, { reference: true }), non2xx: null } : await consentPhase(phase === 'personal' ? 'get' : phase);
    process.stderr.write(`  round ${round} ${phase.padEnd(9)} ${n(r.rps).padStart(7)} req/s, p99 ${(r.p99Us / 1000).toFixed(1)} ms\n`);
    if (!best[phase] || r.rps > best[phase].rps) best[phase] = r;
  }
}
await bare.stop();

const names = {
  bare: 'bare node:http GET (the reference)',
  personal: 'personal GET',
  oneclick: 'one-click POST (durable)',
  mix: 'campaign mix (90/8/2)',
};
const targets = { personal: 0.8, oneclick: 0.3, mix: 0.6 };
const ms = (us) => `${(us / 1000).toFixed(2)} ms`;
console.log(
  `bench:serve — wrk ${threads} threads, ${connections} connections, ${duration} s per phase, best of ${rounds} interleaved round(s); ` +
    `${n(profiles)} profiles imported, ${n(people.length)} reachable by email; Node ${process.version}`,
);
console.log(`${'phase'.padEnd(36)} ${'req/s'.padStart(8)} ${'p50'.padStart(9)} ${'p99'.padStart(9)}  errors  non-2xx  ratio to bare`);
for (const phase of phases) {
  const r = best[phase];
  const ratio = r.rps / best.bare.rps;
  const non2xx = r.non2xx ?? r.status; // bare: wrk's count of answers ≥ 400 (it only ever answers 200)
  const verdict = targets[phase] ? ` (target ≥ ${targets[phase]}x: ${ratio >= targets[phase] && r.errors + non2xx === 0 ? 'met' : 'MISSED'})` : '';
  console.log(
    `${names[phase].padEnd(36)} ${n(r.rps).padStart(8)} ${ms(r.p50Us).padStart(9)} ${ms(r.p99Us).padStart(9)}  ${String(r.errors).padStart(6)}  ${String(non2xx).padStart(7)}  ${ratio.toFixed(2)}x${verdict}`,
  );
}
for (const phase of ['oneclick', 'mix']) {
  const r = best[phase];
  const perCommit = r.commits ? (r.events / r.commits).toFixed(1) : '?';
  console.log(
    `${names[phase]}: ${n(r.completed)} answered, ${n(r.postsSent)} POSTs sent, ${n(r.events)} ledger events in ${n(r.blocks)} blocks; ` +
      (r.commits !== null ? `the server committed ${n(r.submissions)} submissions in ${n(r.commits)} transactions: ${perCommit} events per commit` : 'the server reported no commit count'),
  );
}
console.log(
  `people: every request a different person; ${n(postsUsed)} of the ${n(postPoolSize)} people kept for POSTs used once each over the whole bench` +
    (wraps > 0 ? `; WARNING: a pool ran out and was reused ${wraps} time(s) (use more --profiles)` : ''),
);
