#!/usr/bin/env node
// bench:cli — wall time of `consent profile show <ref> --json` against a bare
// Node script that opens the same store and runs one query, in the same run.
// Usage: npm run bench:cli [-- --runs 30 --profiles 100000]
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' }, profiles: { type: 'string', default: '100000' } } });
const runs = Number(values.runs);
const profiles = Number(values.profiles);

const out = join(root, 'bench/out/cli');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const db = join(out, 'consent.db');

// A populated store, made through consent's own store so the schema is the real one.
const { openStore } = await import(join(root, 'dist/store/index.js'));
const store = await openStore(db);
await store.close();
const { default: Database } = await import('better-sqlite3');
const raw = new Database(db);
const ins = raw.prepare('INSERT INTO profiles (email, first_name, created_at, updated_at) VALUES (?, ?, ?, ?)');
raw.transaction(() => {
  for (let i = 0; i < profiles; i++) ins.run(`user${i}@example.com`, `User ${i}`, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
})();
raw.close();
const s2 = await openStore(db);
const target = await s2.findProfile({ email: `user${Math.floor(profiles / 2)}@example.com` });
await s2.applyConsent([{ profileId: target.id, wanted: { email: true, sms: true } }], { source: 'bench', actor: 'bench', occurredAt: new Date().toISOString() });
await s2.close();
const ref = target.email;

const bare = join(out, 'bare.mjs');
writeFileSync(
  bare,
  `import Database from ${JSON.stringify(join(root, 'node_modules/better-sqlite3/lib/index.js'))};
const db = new Database(process.argv[2]);
const row = db.prepare('SELECT * FROM profiles WHERE email = ?').get(process.argv[3]);
process.stdout.write(JSON.stringify(row) + '\\n');
db.close();
`,
);

function time(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const cli = [join(root, 'bin/consent.js'), '--db', db, 'profile', 'show', ref, '--json'];
const ref0 = [bare, db, ref];
time(cli); time(ref0); // warm the file cache
const a = [], b = [];
for (let i = 0; i < runs; i++) { a.push(time(cli)); b.push(time(ref0)); } // interleaved: same conditions
const ca = median(a), cb = median(b);
console.log(`store: ${profiles} profiles; ${runs} runs each, interleaved; median wall time`);
console.log(`  consent profile show <ref> --json : ${ca.toFixed(1)} ms`);
console.log(`  bare node + better-sqlite3 query  : ${cb.toFixed(1)} ms`);
console.log(`  ratio: ${(ca / cb).toFixed(2)}x (target: at most 2x)`);
