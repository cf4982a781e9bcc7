import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { invalid, notFound } from '../../../consent/errors.js';
import type { SoftBouncePolicy } from '../../../consent/feedback.js';
import { FEEDBACK_ACTOR, ingestFeedback, type FeedbackMessageSource, type FeedbackSummary } from '../../../feedback/ingest.js';
import { loadKeyring } from '../../../landing/operations.js';
import type { CommandContext } from '../../context.js';

/** Folders this big get a progress line on a terminal. */
const PROGRESS_FROM = 100;

export async function ingest(ctx: CommandContext, path: string, o: Record<string, unknown>): Promise<void> {
  const policy = softBouncePolicy(o);
  const sources = await messageSources(ctx, path);
  const store = await ctx.store();
  const keyring = await loadKeyring(store, ctx.env);
  const progress = ctx.deps.stderr.isTTY && sources.length >= PROGRESS_FROM ? progressLine(ctx, sources.length) : undefined;
  let summary: FeedbackSummary;
  try {
    const { actor, occurredAt } = ctx.change('feedback');
    summary = await ingestFeedback(store, keyring, sources, {
      policy,
      context: { actor: FEEDBACK_ACTOR, reason: null, evidence: null, occurredAt },
      operator: actor,
      onMessage: progress,
    });
  } finally {
    if (progress) ctx.notice('');
  }
  for (const s of summary.skipped) ctx.notice(`Skipped ${s.file}: ${s.reason}.`);
  for (const m of summary.malformed) ctx.notice(`Malformed ${m.file}: ${m.reason}; nothing of it was recorded.`);
  if (o.json) return ctx.json(summary);
  const rows: [string, number][] = [
    ['messages', summary.messages],
    ['hard bounces', summary.hardBounces],
    ['soft bounces', summary.softBounces],
    ['complaints', summary.complaints],
    ['suppressed now', summary.suppressedNow],
    ['already suppressed', summary.alreadySuppressed],
    ['opted out of email', summary.optedOut],
    ['unknown addresses', summary.unknownAddresses],
    ['already ingested', summary.alreadyIngested],
    ['skipped', summary.skipped.length],
    ['malformed', summary.malformed.length],
  ];
  await ctx.table(['outcome', 'count'], rows.map(([k, v]) => [k, String(v)]));
}

function softBouncePolicy(o: Record<string, unknown>): SoftBouncePolicy {
  const count = String(o.softBounces);
  if (!/^\d{1,4}$/.test(count) || Number(count) < 1) throw invalid(`Invalid --soft-bounces "${count}".`, 'Give a whole number of soft bounces, at least 1 (default 3).');
  const m = /^(\d{1,4})d?$/.exec(String(o.softWindow).trim().toLowerCase());
  if (!m || Number(m[1]) < 1) throw invalid(`Invalid --soft-window "${String(o.softWindow)}".`, 'Give a number of days, e.g. 14d (default).');
  return { count: Number(count), windowDays: Number(m[1]) };
}

/** The messages to read: stdin, one file, or every file of a folder (by name; no sub-folders, no dot files). */
async function messageSources(ctx: CommandContext, path: string): Promise<FeedbackMessageSource[]> {
  if (path === '-') {
    return [
      {
        file: '-',
        read: async () => {
          const chunks: Buffer[] = [];
          for await (const c of ctx.deps.stdin.stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
          return Buffer.concat(chunks);
        },
      },
    ];
  }
  const full = resolve(ctx.deps.cwd, path);
  const st = await stat(full).catch(() => null);
  if (!st) throw notFound(`No file or folder ${path}.`, 'Give an .eml file, a folder of them, or - for stdin.');
  if (!st.isDirectory()) return [{ file: basename(full), read: () => readFile(full) }];
  const names = [];
  for (const entry of await readdir(full, { withFileTypes: true })) {
    if (entry.isFile() && !entry.name.startsWith('.')) names.push(entry.name);
  }
  names.sort();
  return names.map((name) => ({ file: name, read: () => readFile(join(full, name)) }));
}

/** "120 / 2,500 messages", redrawn in place on stderr (a terminal only). */
function progressLine(ctx: CommandContext, total: number) {
  const n = (x: number) => x.toLocaleString('en');
  return (done: number) => {
    if (done % 50 === 0 || done === total) ctx.deps.stderr.write(`\r${n(done)} / ${n(total)} messages\x1b[K`);
  };
}
