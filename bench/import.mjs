#!/usr/bin/env node
// `npm run bench:import [-- --rows N] [-- --big-rows M]`: consent's CSV import
// against the sqlite3 shell doing the same job at its fastest, in one run.
//   (a) fresh store: consent `profile import` vs `.import` into a plain table
//       and the unique email index built afterwards;
//   (b) re-import over the populated store (new emails, changed names and
//       opt-outs, random order): consent vs `.import` into a staging table and
//       one INSERT … ON CONFLICT(email) DO UPDATE.
// Then peak RSS of consent at --rows vs --big-rows (default 4,000,000; set
// BENCH_IMPORT_SKIP_BIG=1 to skip that part). Each 1M timing is the best of
// --repeat runs (default 3), consent and sqlite3 taking turns. Files go to bench/out/.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
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
const BIG = arg('--big-rows', 4_000_000);
const CHANNELS = ['all', 'email', 'sms', 'phone', 'postal', 'fax', 'push'];
const TIME = '/usr/bin/time';

for (const tool of ['sqlite3', TIME]) {
  if (spawnSync(tool, ['--version']).error) {
    console.error(`${tool} is needed (apt-get install ${tool === TIME ? 'time' : 'sqlite3'}).`);
    process.exit(1);
  }
}
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
mkdirSync(out, { recursive: true });

/** A small deterministic PRNG (LCG), so every run writes the same files. */
function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/**
 * `n` profiles, emails in random order. `variant` 1 is the update file: the
 * same people in another order plus 5% new ones, 10% with another last name,
 * opt-out cells drawn again (so some are set, some asked to be cleared).
 */
async function generate(path, n, variant) {
  if (existsSync(path)) return;
  const rnd = rng(variant === 0 ? 42 : 4242);
  const total = variant === 0 ? n : Math.round(n * 1.05);
  const perm = new Uint32Array(total);
  for (let i = 0; i < total; i++) perm[i] = i;
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const w = createWriteStream(path + '.partial');
  let buf = `email,phone,first_name,last_name,${CHANNELS.map((c) => `optout_${c}`).join(',')}\n`;
  const flag = () => {
    const x = rnd();
    return x < 0.04 ? '1' : x < 0.5 ? '0' : '';
  };
  for (let i = 0; i < total; i++) {
    const k = perm[i];
    const last = variant === 1 && k % 10 === 3 ? `Renamed${k % 501}` : `Last${k % 777}`;
    buf += `user${k}@example${k % 97}.com,+336${String(10000000 + k).slice(-8)},First${k % 1000},${last},${CHANNELS.map(flag).join(',')}\n`;
    if (buf.length > 1 << 16) {
      if (!w.write(buf)) await new Promise((r) => w.once('drain', r));
      buf = '';
    }
  }
  w.end(buf);
  await new Promise((r) => w.once('finish', r));
  execFileSync('mv', [path + '.partial', path]);
}

function removeDb(path) {
  for (const s of ['', '-wal', '-shm', '-journal']) rmSync(path + s, { force: true });
}

/** Runs a command under /usr/bin/time -v; returns wall seconds and peak RSS in MiB. */
function timed(cmd, args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(TIME, ['-v', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  return { secs, rss, stdout: r.stdout };
}

const consent = (db, file) => timed(process.execPath, [bin, '--db', db, 'profile', 'import', file, '--json'], { CONSENT_ACTOR: 'bench' });

const upsert = `INSERT INTO t SELECT * FROM stg WHERE true ON CONFLICT(email) DO UPDATE SET
  phone = excluded.phone, first_name = excluded.first_name, last_name = excluded.last_name,
  ${CHANNELS.map((c) => `optout_${c} = excluded.optout_${c}`).join(', ')}`;

const fmt = (s) => `${s.toFixed(2)} s`;
const mib = (m) => `${m.toFixed(0)} MiB`;

const fileA = join(out, `profiles-${ROWS}.csv`);
const fileB = join(out, `profiles-${ROWS}-update.csv`);
console.log(`Generating ${ROWS.toLocaleString('en')} profiles (random-order emails) into bench/out/ …`);
await generate(fileA, ROWS, 0);
await generate(fileB, ROWS, 1);
console.log(`  ${fileA.replace(root + '/', '')}: ${(statSync(fileA).size / 2 ** 20).toFixed(0)} MiB; update file ${(statSync(fileB).size / 2 ** 20).toFixed(0)} MiB`);

const cdb = join(out, 'consent.db');
const sdb = join(out, 'sqlite3.db');
const REPEAT = arg('--repeat', 3);

/**
 * Best time of REPEAT runs of each (the machine may be shared), and the
 * highest peak RSS. consent and sqlite3 take turns, each after a `sync`, so
 * that neither pays for the other's (or the generator's) disk writes still
 * being flushed, and a slow spell of the machine hits both alike.
 */
function bestOfEach(prepareC, runC, prepareS, runS) {
  let c = null;
  let s = null;
  const keep = (r, x) => (r === null ? x : { ...(x.secs < r.secs ? x : r), rss: Math.max(r.rss, x.rss) });
  for (let i = 0; i < REPEAT; i++) {
    prepareC();
    spawnSync('sync');
    c = keep(c, runC());
    prepareS();
    spawnSync('sync');
    s = keep(s, runS());
  }
  return [c, s];
}
function restore(from, to) {
  removeDb(to);
  copyFileSync(from, to);
}

console.log(`\n(a) fresh store (best of ${REPEAT})`);
const [cA, sA] = bestOfEach(
  () => removeDb(cdb),
  () => consent(cdb, fileA),
  () => removeDb(sdb),
  () => timed('sqlite3', [sdb, '-cmd', '.mode csv', `.import ${fileA} t`, 'CREATE UNIQUE INDEX t_email ON t (email)']),
);
const sumA = JSON.parse(cA.stdout);
console.log(`  consent profile import: ${fmt(cA.secs)}  (${sumA.new} new, ${sumA.events} ledger events, peak RSS ${mib(cA.rss)})`);
console.log(`  sqlite3 .import + index: ${fmt(sA.secs)}`);
console.log(`  ratio: ${(cA.secs / sA.secs).toFixed(2)}x`);

console.log(`\n(b) re-import over the populated store (best of ${REPEAT})`);
// Both stores as (a) left them, restored before each run. (consent closed its
// store cleanly, so the WAL is checkpointed into the file.)
const cPop = cdb + '.populated';
const sPop = sdb + '.populated';
copyFileSync(cdb, cPop);
copyFileSync(sdb, sPop);
const [cB, sB] = bestOfEach(
  () => restore(cPop, cdb),
  () => consent(cdb, fileB),
  () => restore(sPop, sdb),
  () => timed('sqlite3', [sdb, '-cmd', '.mode csv', `.import ${fileB} stg`, upsert]),
);
removeDb(cPop);
removeDb(sPop);
const sumB = JSON.parse(cB.stdout);
console.log(
  `  consent profile import: ${fmt(cB.secs)}  (${sumB.new} new, ${sumB.updated} updated, ${sumB.unchanged} unchanged, ` +
    `${sumB.optOutsSet} opt-outs set, ${sumB.optInsNotApplied} opt-ins not applied, ${sumB.events} events, peak RSS ${mib(cB.rss)})`,
);
console.log(`  sqlite3 .import staging + upsert: ${fmt(sB.secs)}`);
console.log(`  ratio: ${(cB.secs / sB.secs).toFixed(2)}x`);

let big = null;
if (process.env.BENCH_IMPORT_SKIP_BIG !== '1' && BIG > ROWS) {
  const fileBig = join(out, `profiles-${BIG}.csv`);
  console.log(`\nPeak RSS as the file grows: generating ${BIG.toLocaleString('en')} rows …`);
  await generate(fileBig, BIG, 0);
  const bdb = join(out, 'consent-big.db');
  removeDb(bdb);
  big = consent(bdb, fileBig);
  removeDb(bdb);
  rmSync(fileBig);
  console.log(`  consent profile import of ${BIG.toLocaleString('en')} rows: ${fmt(big.secs)}, peak RSS ${mib(big.rss)}`);
}

console.log('\nSummary');
console.log(`  fresh store:  consent ${fmt(cA.secs)} / sqlite3 ${fmt(sA.secs)} = ${(cA.secs / sA.secs).toFixed(2)}x (target <= 2x)`);
console.log(`  re-import:    consent ${fmt(cB.secs)} / sqlite3 ${fmt(sB.secs)} = ${(cB.secs / sB.secs).toFixed(2)}x (target <= 2x)`);
console.log(`  peak RSS:     ${mib(Math.max(cA.rss, cB.rss))} at ${ROWS.toLocaleString('en')} rows` + (big ? `, ${mib(big.rss)} at ${BIG.toLocaleString('en')} rows` : '') + ' (target <= 200 MiB, flat)');
removeDb(cdb);
removeDb(sdb);
