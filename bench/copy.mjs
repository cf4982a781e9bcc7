#!/usr/bin/env node
// `npm run bench:copy [-- --rows 1000000]`: `consent store copy` both ways
// (issue 11, "Moving between stores"), on a store built the way users build
// one: `consent profile import` of a realistic export (bench/realistic.mjs,
// ≈1.26 ledger events per row) into a new SQLite file, then of its update
// (5 % new people, changed flags, 2 % new phone numbers). Then, in one run:
//   (a) SQLite → PostgreSQL: `store copy file.db postgres://…/empty`;
//   (b) PostgreSQL → SQLite: `store copy postgres://… new.db`;
// and as the reference for each, the same rows moved by the databases' own
// tools, with no checking: (a) `sqlite3 -csv` of profiles and ledger_events
// piped into `psql \copy` into tables with the same indexes (built after the
// load); (b) `psql \copy … TO STDOUT` of both tables piped into `sqlite3
// .import` into tables with the same indexes (built after the load), in one
// transaction. consent also verifies the source's chain and state first, and
// the target's inside its write transaction (head equal to the source's).
// The server: BENCH_PG_URL, else a throwaway cluster (bench/pg-cluster.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pgCluster } from './pg-cluster.mjs';
import { writeRealisticCsv } from './realistic.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/consent.js');
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' } } });
const ROWS = Number(values.rows);
const say = (m) => process.stderr.write(m + '\n');
for (const [tool, pkg] of [['sqlite3', 'sqlite3'], ['/usr/bin/time', 'time']]) {
  if (spawnSync(tool, ['--version']).error) {
    say(`bench:copy needs ${tool}: apt-get install ${pkg}`);
    process.exit(2);
  }
}
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const out = join(root, 'bench/out/copy');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const pg = await pgCluster(say);

/** Wall seconds and peak RSS (MiB) of a command, GNU time. */
function timed(cmd, args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const rss = Number(r.stderr.trim().split('\n').pop()) / 1024;
  return { secs, rss, stdout: r.stdout };
}
const sh = (script) => timed('bash', ['-o', 'pipefail', '-c', script]);
const settle = () => {
  pg.psql(pg.adminUrl, 'CHECKPOINT;');
  spawnSync('sync');
};

say(`Writing ${ROWS.toLocaleString('en')} realistic profiles …`);
const csv = join(out, 'people.csv');
await writeRealisticCsv(csv, ROWS);
const source = join(out, 'source.db');
say('Building the SQLite store the way users do: consent profile import …');
const imp = timed(process.execPath, [bin, '--db', source, 'profile', 'import', csv, '--json'], { CONSENT_ACTOR: 'bench' });
const imported = JSON.parse(imp.stdout);
say(`  ${imported.profiles} profiles, ${imported.events} events in ${imp.secs.toFixed(1)} s`);
// Then the later export users import over it (realistic.mjs's update: changed names and flags, 5 % new people,
// 2 % new phone numbers), so the copy also carries address events and a second block.
const update = join(out, 'update.csv');
await writeRealisticCsv(update, ROWS, { update: true });
const upd = JSON.parse(timed(process.execPath, [bin, '--db', source, 'profile', 'import', update, '--json'], { CONSENT_ACTOR: 'bench' }).stdout);
say(`  then the update: ${upd.new} new, ${upd.updated} updated, ${upd.events} events, ${upd.phoneChanges} changes of phone`);
const storeRows = spawnSync('sqlite3', [source, 'SELECT (SELECT count(*) FROM profiles) || " " || (SELECT count(*) FROM ledger_events)'], { encoding: 'utf8' }).stdout.trim();
const [storeProfiles, storeEvents] = storeRows.split(' ').map(Number);

// (a) SQLite → PostgreSQL
const target = pg.createDb('consent_bench_copy');
settle();
say('(a) store copy SQLite → PostgreSQL …');
const a = timed(process.execPath, [bin, 'store', 'copy', source, target, '--json']);
const aOut = JSON.parse(a.stdout);
say(`    ${a.secs.toFixed(1)} s (peak RSS ${a.rss.toFixed(0)} MiB)`);
const ref = pg.createDb('consent_bench_copy_ref');
const profileCols = 'id integer PRIMARY KEY, email text NOT NULL, phone text, first_name text, last_name text, optout_all integer, optout_email integer, optout_sms integer, optout_phone integer, optout_postal integer, optout_fax integer, optout_push integer, created_at text, updated_at text, erased_at text, ' +
  'granted_email integer, granted_sms integer, granted_phone integer, granted_postal integer, granted_fax integer, granted_push integer';
const eventCols = 'id bigint PRIMARY KEY, profile_id integer, channel text, service text, action text, source text, actor text, reason text, evidence text, occurred_at text, address_key text';
pg.psql(ref, `CREATE TABLE profiles (${profileCols}); CREATE TABLE ledger_events (${eventCols});`);
settle();
say('    reference: sqlite3 -csv | psql \\copy, indexes after …');
const aRef = sh(
  `sqlite3 -csv ${source} 'SELECT * FROM profiles ORDER BY id' | psql -X -q -v ON_ERROR_STOP=1 -d '${ref}' -c '\\copy profiles FROM STDIN (FORMAT csv)' && ` +
    `sqlite3 -csv ${source} 'SELECT * FROM ledger_events ORDER BY id' | psql -X -q -v ON_ERROR_STOP=1 -d '${ref}' -c '\\copy ledger_events FROM STDIN (FORMAT csv)' && ` +
    `psql -X -q -v ON_ERROR_STOP=1 -d '${ref}' -c 'CREATE UNIQUE INDEX ON profiles (email); CREATE INDEX ON ledger_events (profile_id, channel, id)'`,
);

// (b) PostgreSQL → SQLite
const back = join(out, 'back.db');
settle();
say('(b) store copy PostgreSQL → SQLite …');
const b = timed(process.execPath, [bin, 'store', 'copy', target, back, '--json']);
const bOut = JSON.parse(b.stdout);
say(`    ${b.secs.toFixed(1)} s (peak RSS ${b.rss.toFixed(0)} MiB)`);
const refDb = join(out, 'ref.db');
execFileSync('sqlite3', [refDb, `PRAGMA journal_mode=WAL; CREATE TABLE profiles (${profileCols}); CREATE TABLE ledger_events (${eventCols});`]);
settle();
say('    reference: psql \\copy TO STDOUT | sqlite3 .import, one transaction, indexes after …');
const bRef = sh(
  `{ echo 'BEGIN;'; echo '.mode csv'; ` +
    `echo ".import '|psql -X -q -d ${ref} -c \\"\\\\copy profiles TO STDOUT (FORMAT csv)\\"' profiles"; ` +
    `echo ".import '|psql -X -q -d ${ref} -c \\"\\\\copy ledger_events TO STDOUT (FORMAT csv)\\"' ledger_events"; ` +
    `echo 'CREATE UNIQUE INDEX p_email ON profiles (email); CREATE INDEX e_profile ON ledger_events (profile_id, channel, id); COMMIT;'; } | sqlite3 -bail ${refDb}`,
);
const refRows = spawnSync('sqlite3', [refDb, 'SELECT (SELECT count(*) FROM profiles) || " " || (SELECT count(*) FROM ledger_events)'], { encoding: 'utf8' }).stdout.trim();
if (refRows !== storeRows) throw new Error(`the reference (b) loaded ${refRows} rows, not ${storeRows}`);

const line = (name, r, refR) => `${name}: ${r.secs.toFixed(1)} s (peak RSS ${r.rss.toFixed(0)} MiB); reference ${refR.secs.toFixed(1)} s; ratio ${(r.secs / refR.secs).toFixed(2)}x`;
const pgVersion = pg.scalar(pg.adminUrl, 'SHOW server_version');
const settings = pg.scalar(pg.adminUrl, "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers')");
process.stdout.write(
  [
    `bench:copy: ${storeProfiles.toLocaleString('en')} profiles, ${storeEvents.toLocaleString('en')} ledger events (built by profile import: the first load in ${imp.secs.toFixed(1)} s, then the update with ${upd.phoneChanges.toLocaleString('en')} changes of phone); PostgreSQL ${pgVersion} (${pg.note}; ${settings}); load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}`,
    line('(a) store copy SQLite → PostgreSQL', a, aRef),
    line('(b) store copy PostgreSQL → SQLite', b, bRef),
    `ledger head ${aOut.head}: the same after (a) and (b) (each copy checks it against its source): ${aOut.head === bOut.head ? 'yes' : 'NO'}`,
    'references: the profiles and ledger_events rows alone (sqlite3 -csv | psql \\copy; psql \\copy | sqlite3 .import), indexes built after, nothing verified.',
    '',
  ].join('\n'),
);
pg.dropDb('consent_bench_copy');
pg.dropDb('consent_bench_copy_ref');
