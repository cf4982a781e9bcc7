import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConsentError, invalid, notFound } from '../../../consent/errors.js';
import { importSource } from '../../../imports/import.js';
import { readSuppressionFile, type SuppressionFileProblem, type SuppressionFormat } from '../../../imports/suppression-file.js';
import type { CommandContext } from '../../context.js';
import { defaultCountry } from '../profile/country.js';

/** Errors shown (and carried in a --json error's details): the first ones. */
const MAX_ERRORS = 20;

const placeOf = (p: SuppressionFileProblem) => (p.line !== null ? `line ${p.line}` : `entry ${p.entry}`);

async function readInput(ctx: CommandContext, file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of ctx.deps.stdin.stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    return Buffer.concat(chunks);
  }
  const path = resolve(ctx.deps.cwd, file);
  const st = await stat(path).catch(() => null);
  if (!st) throw notFound(`No file ${file}.`);
  if (st.isDirectory()) throw invalid(`${file} is a folder, not a suppression file.`, 'Give the path of the file to import (or - for stdin).');
  return readFile(path);
}

/**
 * `suppression import`: the whole file is read and validated first; with any
 * invalid entry nothing is written (unless --skip-invalid); then every entry
 * is added in ONE transaction (origin `import:<file name>`), or, with
 * --dry-run, planned in one that is rolled back.
 */
export async function importFile(ctx: CommandContext, file: string, o: Record<string, unknown>): Promise<void> {
  const country = defaultCountry(ctx, o);
  const bytes = await readInput(ctx, file);
  const now = ctx.nowIso();
  const parsed = await readSuppressionFile(bytes, { format: o.format as SuppressionFormat | 'auto', defaultCountry: country, now, file });
  const invalidCount = parsed.problems.length;
  const errors = parsed.problems.slice(0, MAX_ERRORS).map((p) => ({ line: p.line, entry: p.entry, field: p.field, reason: p.reason }));
  if (invalidCount > 0 && !o.skipInvalid) {
    if (!o.json) {
      for (const p of parsed.problems.slice(0, MAX_ERRORS)) ctx.notice(`${placeOf(p)}, ${p.field}: ${p.reason}`);
      if (invalidCount > MAX_ERRORS) ctx.notice(`… and more (${invalidCount} invalid entries in all).`);
    }
    throw new ConsentError(
      'invalid',
      `${invalidCount} of ${parsed.records} entr${parsed.records === 1 ? 'y' : 'ies'} in ${file} ${invalidCount === 1 ? 'is' : 'are'} invalid; nothing was written.`,
      'Fix them, or pass --skip-invalid to import the others.',
      { details: { records: parsed.records, invalid: invalidCount, errors } },
    );
  }
  const store = await ctx.store();
  const dryRun = Boolean(o.dryRun);
  const results = parsed.rows.length
    ? await store.suppressions.add(
        parsed.rows.map((r) => ({ channel: r.channel, address: r.address, reason: r.reason, note: r.note, expiresAt: r.expiresAt })),
        ctx.change(importSource(file)),
        { dryRun },
      )
    : [];
  const byReason: Record<string, number> = {};
  for (const r of results) if (r.outcome !== 'already') byReason[r.entry.reason] = (byReason[r.entry.reason] ?? 0) + 1;
  const count = (x: string) => results.filter((r) => r.outcome === x).length;
  const summary = {
    file,
    format: parsed.format,
    shape: parsed.shape,
    origin: importSource(file),
    dryRun,
    records: parsed.records,
    valid: parsed.rows.length,
    invalid: invalidCount,
    expired: parsed.expired,
    added: count('added'),
    replaced: count('replaced'),
    already: count('already'),
    byReason,
    errors,
  };
  for (const p of parsed.problems.slice(0, MAX_ERRORS)) ctx.notice(`skipped ${placeOf(p)}, ${p.field}: ${p.reason}`);
  if (o.json) return ctx.json(summary);
  const verb = dryRun ? 'Would import' : 'Imported';
  ctx.print(
    [
      `${verb} ${file} (${parsed.shape}): ${parsed.records} entr${parsed.records === 1 ? 'y' : 'ies'}.`,
      `  added:             ${summary.added}`,
      `  replaced:          ${summary.replaced} (a weaker reason made stronger)`,
      `  already suppressed: ${summary.already}`,
      ...(parsed.expired ? [`  expired (left out): ${parsed.expired}`] : []),
      `  invalid (skipped): ${invalidCount}`,
      ...Object.entries(byReason)
        .sort()
        .map(([r, n]) => `  ${r}: ${n}`),
    ].join('\n'),
  );
}
