#!/usr/bin/env node
// `npm run bench:pg-stream [-- --rows 1000000]`: peak RSS of the streaming
// commands on a PostgreSQL store of --rows profiles (issue 11: "Exports,
// `profile list`, `landing links` and `service confirmations` stream in
// constant memory on PostgreSQL too; 1M rows stay under 200 MiB RSS"). The
// store is built as users build one: `service create news --double-opt-in`,
// then `profile import` of a realistic export (bench/realistic.mjs) with a
// `subscribe_news` column (every other row 1: pending confirmations), and
// one published page. Each command runs through the binary, stdout piped
// into `wc -c`, under GNU time (peak RSS of the consent process), with its
// wall time. The server: BENCH_PG_URL, else a throwaway cluster (bench/pg-cluster.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pgCluster } from './pg-cluster.mjs';
import { writeRealisticCsv } from './realistic.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/consent.js');
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' } } });
const ROWS = Number(values.rows);
const LIMIT_MIB = 200;
const say = (m) => process.stderr.write(m + '\n');
if (spawnSync('/usr/bin/time', ['true']).error) {
  say('bench:pg-stream needs GNU time (/usr/bin/time): apt-get install time');
  process.exit(2);
}
if (!existsSync(join(root, 'dist/cli/run.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const out = join(root, 'bench/out/pg-stream');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const pg = await pgCluster(say);
const db = pg.createDb('consent_bench_stream');
const env = { ...process.env, CONSENT_ACTOR: 'bench', CONSENT_BASE_URL: 'https://consent.example.com' };
const consent = (...args) => {
  const r = spawnSync(process.execPath, [bin, '--db', db, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`consent ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};

say(`Writing ${ROWS.toLocaleString('en')} realistic profiles, with a subscribe_news column …`);
const plain = join(out, 'people-plain.csv');
await writeRealisticCsv(plain, ROWS);
const csv = join(out, 'people.csv');
{
  const w = createWriteStream(csv);
  let i = 0;
  for await (const line of createInterface({ input: createReadStream(plain) })) {
    const cell = i++ === 0 ? 'subscribe_news' : i % 2 === 0 ? '1' : '';
    if (!w.write(`${line},${cell}\n`)) await new Promise((r) => w.once('drain', r));
  }
  w.end();
  await new Promise((r) => w.once('finish', r));
  rmSync(plain);
}
consent('service', 'create', 'news', '--label', 'News', '--double-opt-in');
say('consent profile import …');
const imported = JSON.parse(consent('profile', 'import', csv, '--json'));
consent('landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop');
consent('landing', 'publish', 'stop', '--out-dir', join(out, 'public'));

const commands = [
  ['profile export', ['profile', 'export']],
  ['profile export --format jsonl', ['profile', 'export', '--format', 'jsonl']],
  ['profile list --json', ['profile', 'list', '--json']],
  ['profile list (piped table)', ['profile', 'list']],
  ['landing links stop', ['landing', 'links', 'stop']],
  ['service confirmations news', ['service', 'confirmations', 'news']],
];
const results = [];
for (const [name, args] of commands) {
  say(`${name} …`);
  const rssFile = join(out, 'rss');
  const t0 = performance.now();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `/usr/bin/time -f %M -o ${rssFile} "$@" | wc -c`, 'bash', process.execPath, bin, '--db', db, ...args], { encoding: 'utf8', env });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
  const rss = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024;
  results.push({ name, rss, secs, bytes: Number(r.stdout.trim()) });
}
const pgVersion = pg.scalar(pg.adminUrl, 'SHOW server_version');
const lines = [
  `bench:pg-stream: ${imported.profiles.toLocaleString('en')} profiles (${imported.subscriptionsPending.toLocaleString('en')} pending news subscriptions) on PostgreSQL ${pgVersion} (${pg.note}); load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  ...results.map((r) => `${r.name.padEnd(32)} peak RSS ${r.rss.toFixed(0).padStart(4)} MiB ${r.rss <= LIMIT_MIB ? '(≤ 200 MiB: met)' : '(> 200 MiB: MISSED)'}  ${r.secs.toFixed(1).padStart(6)} s  ${(r.bytes / 2 ** 20).toFixed(1)} MiB out`),
  '',
];
process.stdout.write(lines.join('\n'));
pg.dropDb('consent_bench_stream');
