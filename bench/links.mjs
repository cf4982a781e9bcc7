#!/usr/bin/env node
// bench:links — `consent landing links` as users meet it (issue 12).
//
// The store is built the way users build it: `consent profile import` of the
// realistic export bench:import loads (bench/realistic.mjs: about a quarter
// opted out of each channel, quoted names, 15 % empty phones, emails in
// random order), then `landing create` + `landing publish` of a blocklist page
// (its links carry a url and an RFC 8058 oneClickUrl). Timed through the
// binary, to a file (`--out`, atomic: fsynced and renamed):
//   links             every profile (url + oneClickUrl), the default threads
//   links --reachable email   what a campaign mails
//   links --threads 0  the same, signed on the main thread only
// against references measured in the same run:
//   sqlite3 shell     `sqlite3 -csv -header` of the same id,email rows to a file
//   bare HMACs        a bare Node script computing the same HMAC-SHA256s with
//                     node:crypto, single-threaded, writing nothing
// Best of --repeat (default 3) turns, contestants interleaved within each turn
// (this machine is shared), each after a `sync`; peak RSS is the worst turn's,
// CPU (user + system, all threads) the least: wall time well above the CPU
// time of a one-thread run means the run waited for a core.
// Then the same at a tenth of the size and with V8's old generation capped at
// 32 MiB: a flat peak RSS and a capped run that completes mean constant memory.
// Usage: npm run bench:links [-- --profiles 1000000 --repeat 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeRealisticCsv } from './realistic.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/consent.js');
const { values } = parseArgs({ options: { profiles: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '3' } } });
const PROFILES = Number(values.profiles);
const SMALL = Math.round(PROFILES / 10);
const REPEAT = Math.max(1, Number(values.repeat));
const TIME = '/usr/bin/time';
const BASE = 'https://pages.example.com';

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(2);
}
if (spawnSync('sqlite3', ['-version']).error) fail('bench:links needs the sqlite3 shell: apt-get install sqlite3');
if (spawnSync(TIME, ['true']).error) fail('bench:links needs GNU time (/usr/bin/time): apt-get install time');
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });

const out = join(root, 'bench/out/links');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const env = { ...process.env, CONSENT_ACTOR: 'bench' };

/** Runs a command under GNU time: wall seconds, peak RSS in MiB. */
function timed(cmd, args, { stdout } = {}) {
  spawnSync('sync');
  const t0 = performance.now();
  const r = spawnSync(TIME, ['-v', cmd, ...args], { encoding: 'utf8', env, stdio: ['ignore', stdout === undefined ? 'ignore' : stdout, 'pipe'] });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const field = (name) => Number(new RegExp(`${name} \\(seconds\\): ([\\d.]+)`).exec(r.stderr)?.[1] ?? NaN);
  return { secs, rss, cpu: field('User time') + field('System time') };
}
const consent = (db, args) => [bin, '--db', db, ...args];

async function build(n) {
  const csv = join(out, `profiles-${n}.csv`);
  const db = join(out, `consent-${n}.db`);
  process.stderr.write(`Writing ${n.toLocaleString('en-US')} realistic profiles and importing them with \`consent profile import\` …\n`);
  await writeRealisticCsv(csv, n);
  const imported = timed(process.execPath, consent(db, ['profile', 'import', csv, '--json']));
  process.stderr.write(`  imported in ${imported.secs.toFixed(1)} s\n`);
  const run = (args) => {
    const r = spawnSync(process.execPath, consent(db, args), { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`consent ${args.join(' ')} failed: ${r.stderr}`);
  };
  run(['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Unsubscribe']);
  run(['landing', 'publish', 'stop', '--out-dir', join(out, 'public')]);
  rmSync(csv);
  return db;
}

const big = await build(PROFILES);
const small = await build(SMALL);
const file = join(out, 'links.csv');
const links = (db, extra = []) => () => timed(process.execPath, consent(db, ['landing', 'links', 'stop', '--base-url', BASE, '--out', file, ...extra]));
/** The shell's CSV export of the same rows to a file (opened by the shell's redirection, as a user would). */
const shell = (where) => () => {
  const fd = join(out, 'shell.csv');
  return timed('sh', ['-c', `sqlite3 -csv -header "$0" "SELECT id, email FROM profiles ${where} ORDER BY id" > "$1"`, big, fd]);
};
const bare = join(out, 'bare-hmacs.mjs');
writeFileSync(
  bare,
  `import { createHmac, randomBytes } from 'node:crypto';
// The HMAC-SHA256s of landing links, single-threaded with node:crypto: one per profile id.
const secret = randomBytes(32);
const message = Buffer.alloc(16 + 5 + 17);
message.write('consent-link-v1\\0stop\\0');
let x = 0;
for (let id = 1; id <= ${PROFILES}; id++) {
  message.writeUInt32BE(id, 30);
  x ^= createHmac('sha256', secret).update(message).digest()[0];
}
if (x === 256) console.log(x);
`,
);
const bareHmacs = () => timed(process.execPath, [bare]);

const contestants = [
  ['consent landing links (url + oneClickUrl)', links(big)],
  ['consent landing links --reachable email', links(big, ['--reachable', 'email'])],
  ['consent landing links --threads 0', links(big, ['--threads', '0'])],
  ['reference: sqlite3 -csv id,email', shell('')],
  ['reference: sqlite3 -csv id,email, reachable on email', shell('WHERE optout_all = 0 AND optout_email = 0')],
  ['reference: bare Node, node:crypto HMACs, 1 thread', bareHmacs],
];
const best = contestants.map(() => null);
for (let turn = 0; turn < REPEAT; turn++) {
  process.stderr.write(`turn ${turn + 1}/${REPEAT} …\n`);
  contestants.forEach(([, f], i) => {
    const r = f();
    const b = best[i];
    best[i] = b === null ? r : { secs: Math.min(b.secs, r.secs), rss: Math.max(b.rss, r.rss), cpu: Math.min(b.cpu, r.cpu) };
  });
}
const linksBytes = statSync(file).size;
const smallRun = links(small)();
const capped = timed(process.execPath, ['--max-old-space-size=32', ...consent(big, ['landing', 'links', 'stop', '--base-url', BASE, '--out', file])]);

const n = (x) => x.toLocaleString('en-US');
const pad = (s) => s.padEnd(56);
console.log(
  `bench:links — Node ${process.version}, sqlite3 ${execFileSync('sqlite3', ['-version']).toString().split(' ')[0]}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ` +
    `best of ${REPEAT} interleaved turns, sync before each`,
);
console.log(`store: ${n(PROFILES)} profiles imported from the realistic export; links file ${(linksBytes / 2 ** 20).toFixed(0)} MiB`);
contestants.forEach(([name], i) => console.log(`${pad(name)} ${best[i].secs.toFixed(2)} s   CPU ${best[i].cpu.toFixed(2)} s   peak RSS ${best[i].rss.toFixed(0)} MiB`));
const [all, reach, single, ref, refReach, hm] = best;
console.log(`ratio links / sqlite3 export: ${(all.secs / ref.secs).toFixed(2)}x; --reachable email: ${(reach.secs / refReach.secs).toFixed(2)}x`);
console.log(`ratio links / bare single-threaded HMACs: ${(all.secs / hm.secs).toFixed(2)}x; signing threads vs --threads 0: ${(all.secs / single.secs).toFixed(2)}x the time`);
console.log(`target (issue 12): ≤ 3 s for ${n(PROFILES)} profiles: ${all.secs <= 3 ? 'met' : 'NOT met'} (${all.secs.toFixed(2)} s)`);
console.log(`constant memory: peak RSS ${smallRun.rss.toFixed(0)} MiB for ${n(SMALL)} profiles vs ${all.rss.toFixed(0)} MiB for ${n(PROFILES)}`);
console.log(`constant memory: ${n(PROFILES)} links with the V8 heap capped at 32 MiB: done in ${capped.secs.toFixed(2)} s, peak RSS ${capped.rss.toFixed(0)} MiB`);
