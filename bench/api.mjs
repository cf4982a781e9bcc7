// bench:api — the check API (issue 17) answering batches of 1,000 emails,
// on SQLite and on PostgreSQL, driven by wrk (1 thread, 1 connection by
// default) on 127.0.0.1 with bench/api.lua.
//
// The store is built as users build one: a realistic export
// (bench/realistic.mjs: ~25 % opted out of each channel) imported with
// `profile import`, 2 % of its emails suppressed (`suppression add`), plus
// suppressed addresses that are in no profile; the PostgreSQL store is a
// `store copy` of it. Each batch mixes 70 % known emails and 30 % unknown
// ones (a tenth of those suppressed), 20 different batches in turn.
//
// Reference, measured in the same run on the same server: the bare 401
// round trip (a GET without a key: routing, the auth hook, no store read);
// also the same 1,000 lookups as one sqlite3 / psql query (process start
// included), printed for scale. Target: p50 well under 50 ms per 1,000.
//
// BENCH_PROFILES (default 100000), BENCH_SECS per phase (default 30: at least 200 batches even on a loaded machine),
// BENCH_CONNECTIONS (default 1), BENCH_PG_URL (else a throwaway cluster).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgCluster } from './pg-cluster.mjs';
import { rng, writeRealisticCsv } from './realistic.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => process.stderr.write(m + '\n');
const PROFILES = Number(process.env.BENCH_PROFILES ?? 100_000);
const SECS = Number(process.env.BENCH_SECS ?? 30);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1);
const BATCHES = 20;
const BATCH = 1000;
if (spawnSync('wrk', ['-v']).error) {
  say('bench:api drives the server with wrk: apt-get install wrk');
  process.exit(2);
}
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const out = join(root, 'bench/out/api');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const BIN = join(root, 'bin/consent.js');
const consent = (db, ...args) => execFileSync(process.execPath, [BIN, '--db', db, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, CONSENT_ACTOR: 'bench' }, stdio: ['ignore', 'pipe', 'pipe'] });

say(`Setting up: ${PROFILES.toLocaleString('en')} realistic profiles imported, 2 % suppressed …`);
const csv = join(out, 'people.csv');
await writeRealisticCsv(csv, PROFILES);
const db = join(out, 'api.db');
consent(db, 'profile', 'import', csv);
const known = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.slice(0, l.indexOf(',')).toLowerCase());
const rnd = rng(17);
const pick = (list) => list[Math.floor(rnd() * list.length)];
const suppressed = known.filter(() => rnd() < 0.02);
const unknown = Array.from({ length: 20_000 }, (_, i) => `nobody.${i}@unknown.example`);
const unknownSuppressed = unknown.filter((_, i) => i % 10 === 0);
const all = [...suppressed, ...unknownSuppressed];
for (let i = 0; i < all.length; i += 500) consent(db, 'suppression', 'add', ...all.slice(i, i + 500), '--reason', 'hard-bounce');
const key = consent(db, 'api-key', 'create', '--name', 'bench').trim();

const bodies = [];
for (let b = 0; b < BATCHES; b++) {
  const emails = Array.from({ length: BATCH }, () => (rnd() < 0.7 ? pick(known) : pick(unknown)));
  bodies.push(emails);
  writeFileSync(join(out, `body.${b}.json`), JSON.stringify({ channel: 'email', emails }));
}

// The expected answers of batch 0, from the store's own export of who is reachable on email.
const reachableKnown = new Set(
  consent(db, 'profile', 'export', '--reachable', 'email', '--format', 'jsonl').trim().split('\n').map((l) => JSON.parse(l).email),
);
const knownSet = new Set(known);
const suppressedSet = new Set(all);
const expected0 = bodies[0].map((e) => (knownSet.has(e) ? reachableKnown.has(e) : !suppressedSet.has(e)));

function serve(store) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--db', store, 'landing', 'serve', '--api', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

function wrk(url, mode) {
  const r = spawnSync('wrk', ['-t', '1', '-c', String(CONNECTIONS), '-d', `${SECS}s`, '--timeout', '10s', '-s', join(root, 'bench/api.lua'), url, '--', out, key, mode], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`wrk printed no summary:\n${r.stdout}${r.stderr}`);
  return JSON.parse(line.slice(6));
}

function timedMs(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return performance.now() - t0;
}

async function measure(label, store, refQuery) {
  const { child, url } = await serve(store);
  try {
    const res = await fetch(`${url}/api/v1/reachable`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ channel: 'email', emails: bodies[0] }) });
    const got = (await res.json()).results.map((r) => r.reachable);
    const wrong = got.filter((g, i) => g !== expected0[i]).length;
    if (wrong > 0) throw new Error(`${label}: ${wrong} of ${BATCH} answers disagree with the store's export`);
    wrk(url, 'post'); // warm-up
    const batch = wrk(url, 'post');
    const ref = wrk(url, 'ref');
    const q = Math.min(...[0, 1, 2].map(() => refQuery()));
    return { label, batch, ref, q };
  } finally {
    child.kill('SIGTERM');
  }
}

const inList = bodies[0].map((e) => `'${e}'`).join(',');
const sql = `SELECT count(*) FROM profiles WHERE email IN (${inList}) AND optout_all = 0 AND optout_email = 0;`;
const results = [await measure('sqlite', db, () => timedMs('sqlite3', [db, sql]))];

say('Copying the store to PostgreSQL (store copy) …');
const pg = await pgCluster(say);
const pgUrl = pg.createDb('consent_bench_api');
consent(db, 'store', 'copy', db, pgUrl);
results.push(await measure('postgres', pgUrl, () => timedMs('psql', ['-X', '-A', '-t', '-d', pgUrl, '-c', sql])));

const f = (x) => x.toFixed(2).padStart(7);
console.log(`bench:api — ${PROFILES.toLocaleString('en')} profiles, POST batches of ${BATCH} emails (70 % known), wrk 1 thread ${CONNECTIONS} connection(s), ${SECS} s per phase`);
console.log('store     requests   p50 ms   p99 ms  | ref 401 p50   p99 | batch/ref p50 | one SQL query of the 1,000 (CLI, incl. start) ms | target p50 < 50 ms');
for (const r of results) {
  const ok = r.batch.errors === 0 && r.batch.non2xx === 0 && r.batch.requests >= 200;
  console.log(
    `${r.label.padEnd(9)} ${String(r.batch.requests).padStart(8)} ${f(r.batch.p50)} ${f(r.batch.p99)}  | ${f(r.ref.p50)} ${f(r.ref.p99)} | ${(r.batch.p50 / r.ref.p50).toFixed(1).padStart(10)}x   | ${f(r.q)} | ${r.batch.p50 < 50 && ok ? 'ok' : 'MISSED'}`,
  );
}
