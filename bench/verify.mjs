#!/usr/bin/env node
// `npm run bench:verify [-- --rows N] [-- --repeat R]`: `consent ledger verify`
// (the hash chain and the replay of the ledger against every profile's state)
// against the sqlite3 shell hashing the same ledger rows with sha3_query, in
// one run. The store is built the way users build one: `profile import` of a
// generated CSV (N profiles, realistic names, each opt-out cell set with
// probability 0.186, which makes about 1.3 events per profile). Best of
// --repeat runs (default 3) of each, interleaved. Files go to bench/out/.
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench/out');
const bin = join(root, 'bin/consent.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const ROWS = arg('--rows', 1_000_000);
const REPEAT = arg('--repeat', 3);
const OPTOUT_P = 0.186;
const CHANNELS = ['all', 'email', 'sms', 'phone', 'postal', 'fax', 'push'];

if (spawnSync('sqlite3', ['--version']).error) {
  console.error('sqlite3 is needed (apt-get install sqlite3).');
  process.exit(1);
}
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
mkdirSync(out, { recursive: true });

/** A small deterministic PRNG (LCG), so every run writes the same file. */
function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const FIRST = ['Alice', 'Bruno', 'Chloé', 'David', 'Élodie', 'François', 'Gaëlle', 'Hugo', 'Inès', 'Jules', 'Karima', 'Léa', 'Mathis', 'Nour', 'Océane', 'Paul', 'Quentin', 'Rose', 'Samir', 'Théo', 'Ursula', 'Victor', 'Wassim', 'Yasmine', 'Zoé'];
const LAST = ['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent', 'Lefèvre', 'Michel', 'García', 'David', 'Bertrand', 'Roux', 'Vincent', 'Fournier', "O'Neil", 'Nguyen', 'Müller', 'Da Silva', 'Benali'];

async function generate(path, n) {
  if (existsSync(path)) return;
  const rnd = rng(7);
  const w = createWriteStream(path + '.partial');
  let buf = `email,phone,first_name,last_name,${CHANNELS.map((c) => `optout_${c}`).join(',')}\n`;
  for (let k = 0; k < n; k++) {
    const first = FIRST[Math.floor(rnd() * FIRST.length)];
    const last = LAST[Math.floor(rnd() * LAST.length)];
    const local = `${first}.${last}${k}`.normalize('NFD').replace(/[^A-Za-z0-9.]/g, '').toLowerCase();
    const phone = rnd() < 0.7 ? `+336${String(10000000 + k).slice(-8)}` : '';
    const flags = CHANNELS.map(() => (rnd() < OPTOUT_P ? '1' : '0'));
    buf += `${local}@example${k % 97}.com,${phone},${first},"${last}",${flags.join(',')}\n`;
    if (buf.length > 1 << 16) {
      if (!w.write(buf)) await new Promise((r) => w.once('drain', r));
      buf = '';
    }
  }
  w.end(buf);
  await new Promise((r) => w.once('finish', r));
  execFileSync('mv', [path + '.partial', path]);
}

function timed(cmd, args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  }
  return { secs, stdout: r.stdout };
}

const fmt = (s) => `${s.toFixed(2)} s`;
const file = join(out, `verify-profiles-${ROWS}.csv`);
const db = join(out, `verify-${ROWS}.db`);
console.log(`Generating ${ROWS.toLocaleString('en')} profiles into bench/out/ …`);
await generate(file, ROWS);
if (!existsSync(db)) {
  console.log('Importing them (consent profile import) …');
  const r = timed(process.execPath, [bin, '--db', db + '.partial', 'profile', 'import', file, '--json'], { CONSENT_ACTOR: 'bench' });
  execFileSync('mv', [db + '.partial', db]);
  console.log(`  ${fmt(r.secs)}: ${JSON.parse(r.stdout).events.toLocaleString('en')} ledger events`);
}
console.log(`  ${db.replace(root + '/', '')}: ${(statSync(db).size / 2 ** 20).toFixed(0)} MiB`);

// The reference: the sqlite3 shell reading and hashing every ledger column the
// chain covers, in id order (what the chain check must at least do), no replay.
const SHA3 = `SELECT hex(sha3_query('SELECT id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at FROM ledger_events ORDER BY id'))`;
const sqlite = () => timed('sqlite3', ['-readonly', db, SHA3]);
const consent = () => timed(process.execPath, [bin, '--db', db, 'ledger', 'verify', '--json'], { CONSENT_ACTOR: 'bench' });

let c = null;
let s = null;
let result = null;
for (let i = 0; i < REPEAT; i++) {
  const x = consent();
  result = JSON.parse(x.stdout);
  if (!result.ok) throw new Error(`the ledger does not verify: ${x.stdout}`);
  if (c === null || x.secs < c.secs) c = x;
  const y = sqlite();
  if (s === null || y.secs < s.secs) s = y;
}
console.log(`\nledger verify of ${ROWS.toLocaleString('en')} profiles, ${result.events.toLocaleString('en')} events in ${result.blocks} blocks (best of ${REPEAT})`);
console.log(`  consent ledger verify:   ${fmt(c.secs)}`);
console.log(`  sqlite3 sha3_query:      ${fmt(s.secs)}`);
console.log(`  ratio: ${(c.secs / s.secs).toFixed(2)}x (target <= 3x)`);
if (process.env.BENCH_VERIFY_KEEP !== '1') for (const f of [db, db + '-wal', db + '-shm']) rmSync(f, { force: true });
