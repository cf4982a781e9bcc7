#!/usr/bin/env node
// bench:links — wall time and peak RSS of `consent landing links <slug>` over
// a store of N profiles (default 1,000,000), written to /dev/null, against the
// sqlite3 shell exporting `id,email` of the same table as CSV, in the same run.
// Also runs a store a tenth the size, and the full one with the V8 heap capped
// at 32 MiB: a flat peak RSS and a capped run that completes mean constant memory.
// Usage: npm run bench:links [-- --profiles 1000000]
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { profiles: { type: 'string', default: '1000000' } } });
const profiles = Number(values.profiles);
const out = join(root, 'bench/out/links');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const consent = (db, args) => [join(root, 'bin/consent.js'), '--db', db, ...args];

function build(n) {
  const db = join(out, `consent-${n}.db`);
  // Create and migrate through the CLI, so the schema is the real one.
  run(process.execPath, consent(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Unsubscribe']));
  run(process.execPath, consent(db, ['landing', 'publish', 'stop', '--out-dir', join(out, 'public')]));
  // Bulk insert straight in SQL: the bench measures the export, not inserts.
  run('sqlite3', [
    db,
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})
     INSERT INTO profiles (email, first_name, optout_email, created_at, updated_at)
     SELECT 'person' || i || '@example.com', 'Person ' || i, i % 10 = 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM n;`,
  ]);
  return db;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

/** Seconds and peak RSS (MiB) of a command whose stdout goes to /dev/null, via GNU time. */
function measure(cmd, args) {
  const devnull = openSync('/dev/null', 'w');
  try {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { stdio: ['ignore', devnull, 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    const [secs, kb] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
    return { secs, rssMiB: kb / 1024 };
  } finally {
    closeSync(devnull);
  }
}

const best = (f, times = 2) => Array.from({ length: times }, f).sort((a, b) => a.secs - b.secs)[0];

const small = build(Math.round(profiles / 10));
const big = build(profiles);
const linksArgs = (db) => consent(db, ['landing', 'links', 'stop', '--base-url', 'https://pages.example.com']);

const reference = best(() => measure('sqlite3', ['-csv', '-header', big, 'SELECT id, email FROM profiles ORDER BY id']));
// Where the time goes: the same store iteration (store.listProfiles) printing id,email only, no links.
const iterate = join(out, 'iterate.mjs');
writeFileSync(
  iterate,
  `import { openStore } from ${JSON.stringify(join(root, 'dist/store/index.js'))};
const store = await openStore(process.argv[2]);
let buf = '';
for await (const p of store.listProfiles({})) { buf += p.id + ',' + p.email + '\\n'; if (buf.length > 65536) { process.stdout.write(buf); buf = ''; } }
process.stdout.write(buf);
await store.close();
`,
);
const iteration = best(() => measure(process.execPath, [iterate, big]));
// The lean listing `landing links` uses: pages of [id, email].
const iterateLean = join(out, 'iterate-lean.mjs');
writeFileSync(
  iterateLean,
  `import { openStore } from ${JSON.stringify(join(root, 'dist/store/index.js'))};
const store = await openStore(process.argv[2]);
let buf = '';
for await (const page of store.bulk.listContacts({})) for (const [id, email] of page) { buf += id + ',' + email + '\\n'; if (buf.length > 65536) { process.stdout.write(buf); buf = ''; } }
process.stdout.write(buf);
await store.close();
`,
);
const iterationLean = best(() => measure(process.execPath, [iterateLean, big]));
const links = best(() => measure(process.execPath, linksArgs(big)));
const linksSmall = best(() => measure(process.execPath, linksArgs(small)));
// With V8's old generation capped far below the output size, a run that kept rows would die.
const capped = measure(process.execPath, ['--max-old-space-size=32', ...linksArgs(big)]);

const fmt = (n) => n.toLocaleString('en-US');
console.log(`profiles: ${fmt(profiles)}`);
console.log(`reference  sqlite3 -csv id,email            ${reference.secs.toFixed(2)} s   peak RSS ${reference.rssMiB.toFixed(0)} MiB`);
console.log(`consent landing links (CSV, 4 columns)     ${links.secs.toFixed(2)} s   peak RSS ${links.rssMiB.toFixed(0)} MiB   ${fmt(Math.round(profiles / links.secs))} links/s`);
console.log(`of which store.listProfiles alone (id,email) ${iteration.secs.toFixed(2)} s   peak RSS ${iteration.rssMiB.toFixed(0)} MiB`);
console.log(`of which store.bulk.listContacts alone (id,email) ${iterationLean.secs.toFixed(2)} s   peak RSS ${iterationLean.rssMiB.toFixed(0)} MiB`);
console.log(`ratio links / reference: ${(links.secs / reference.secs).toFixed(2)}x the time`);
console.log(`constant memory: ${fmt(profiles)} links with the V8 heap capped at 32 MiB: done in ${capped.secs.toFixed(2)} s, peak RSS ${capped.rssMiB.toFixed(0)} MiB`);
console.log(`constant memory: peak RSS ${linksSmall.rssMiB.toFixed(0)} MiB for ${fmt(Math.round(profiles / 10))} profiles vs ${links.rssMiB.toFixed(0)} MiB for ${fmt(profiles)}`);
