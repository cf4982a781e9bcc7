import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConsentError, invalid, notFound } from '../../../consent/errors.js';
import { reasonCarriesAddress } from '../../../consent/ledger.js';
import { importProfiles, importSource, InvalidRowsError, MAX_ERRORS, type ImportInput, type ImportSummary } from '../../../imports/import.js';
import { encodeText, parseEncoding, type Encoding } from '../../../imports/decode.js';
import type { CommandContext } from '../../context.js';
import { interruptSignal, writeOutputFile } from '../../output-file.js';
import { defaultCountry } from './country.js';

/**
 * The rejects file in the input's encoding (known once the header is read),
 * so that the fixed file re-imports with the same flags.
 */
function encodedRejects(out: { write(bytes: Uint8Array): Promise<void> }) {
  let encoding: Encoding = 'utf-8';
  let first = true;
  return {
    setEncoding(e: Encoding) {
      encoding = e;
    },
    write(text: string) {
      const bytes = encodeText(text, encoding, first);
      first = false;
      return out.write(bytes);
    },
  };
}

export async function run(ctx: CommandContext, file: string, o: Record<string, unknown>): Promise<void> {
  let delimiter = o.delimiter as string | undefined;
  if (delimiter === '\\t' || delimiter === 'tab') delimiter = '\t';
  if (delimiter !== undefined && (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r')) {
    throw invalid(`--delimiter must be one character (not a quote or a newline), not "${delimiter}".`);
  }
  const encoding = typeof o.encoding === 'string' ? parseEncoding(o.encoding) : null;
  const country = defaultCountry(ctx, o);
  let input: ImportInput;
  let size: number | null = null;
  if (file === '-') input = { stream: ctx.deps.stdin.stream };
  else {
    const path = resolve(ctx.deps.cwd, file);
    let st;
    try {
      st = statSync(path);
    } catch {
      throw notFound(`No file ${file}.`);
    }
    if (st.isDirectory()) throw invalid(`${file} is a folder, not a CSV file.`, 'Give the path of the file to import (or - for stdin).');
    size = st.size;
    input = { path, size };
  }

  const store = await ctx.store();
  const suppressed = { email: new Set<string>(), phone: new Set<string>() };
  for await (const s of store.suppressions.list()) if (s.address !== null) (s.channel === 'email' ? suppressed.email : suppressed.phone).add(s.address);
  const progress = ctx.deps.stderr.isTTY ? progressBar(ctx, size) : undefined;
  const rejectsPath = typeof o.rejects === 'string' ? o.rejects : undefined;
  const proof = typeof o.proof === 'string' && o.proof.trim() ? o.proof.trim() : null;
  if (proof && !o.allowOptin) throw invalid('--proof is the evidence of the grants of consent_<channel>=1 cells, which need --allow-optin too.', 'Add --allow-optin.');
  if (proof && reasonCarriesAddress(proof)) throw invalid('The --proof holds an email address or a phone number: the ledger keeps it forever and never holds an address in clear.', 'Describe the proof without it.');
  // With --rejects a file is being written: Ctrl-C stops the import, writes nothing, and removes the temp file.
  const signal = rejectsPath ? interruptSignal(ctx) : undefined;
  const runImport = (rejects?: ReturnType<typeof encodedRejects>) =>
    importProfiles(store.bulk, input, file, {
      delimiter,
      encoding,
      defaultCountry: country,
      onHeader: ({ delimiter: d, detected, encoding: e }) => {
        rejects?.setEncoding(e);
        ctx.notice(`Reading ${file} with delimiter ${d === '\t' ? 'tab' : `"${d}"`}${detected ? ' (detected)' : ''}${e === 'utf-8' ? '' : `, encoding ${e}`}.`);
      },
      allowOptin: Boolean(o.allowOptin),
      skipInvalid: Boolean(o.skipInvalid),
      dryRun: Boolean(o.dryRun),
      context: o.dryRun ? null : ctx.change(importSource(file), null, proof ? { proof } : null),
      proof,
      rejects,
      signal,
      onProgress: progress?.update,
      suppressed,
    });
  let summary: ImportSummary;
  try {
    if (!rejectsPath) summary = await runImport();
    else {
      // The rejects file is written whole, also when invalid rows stop the import: it is what the user fixes.
      let stopped: InvalidRowsError | undefined;
      const done = await writeOutputFile(
        ctx,
        rejectsPath,
        async (out) => {
          try {
            return await runImport(encodedRejects(out));
          } catch (e) {
            if (!(e instanceof InvalidRowsError)) throw e;
            stopped = e;
            return undefined;
          }
        },
        signal,
      );
      if (stopped) throw stopped;
      summary = done!;
    }
  } catch (e) {
    progress?.done();
    if (e instanceof InvalidRowsError) {
      const s = e.summary;
      // With --json the rows travel in the error's details instead.
      if (!o.json) for (const err of s.errors) ctx.notice(`line ${err.line}, column ${err.column}: ${err.reason}`);
      if (!o.json && s.invalid > s.errors.length) ctx.notice(`… and more (${s.invalid} invalid rows in all; --rejects <file> lists them all).`);
      throw new ConsentError(
        'invalid',
        `${s.invalid} of ${s.rows} row(s) in ${file} are invalid; nothing was written.`,
        rejectsPath ? `The invalid rows are in ${rejectsPath} with a reason column; fix them, or pass --skip-invalid.` : 'Fix them, or pass --skip-invalid (with --rejects <file> to keep them).',
        { details: { rows: s.rows, invalid: s.invalid, errors: s.errors.map((e) => ({ line: e.line, column: e.column, reason: e.reason })) } },
      );
    }
    throw e;
  }
  progress?.done();

  for (const err of summary.errors.slice(0, MAX_ERRORS)) ctx.notice(`skipped line ${err.line}, column ${err.column}: ${err.reason}`);
  if (summary.unknownColumns.length > 0) ctx.notice(`Ignored unknown column(s): ${summary.unknownColumns.join(', ')}.`);
  // Said with --json too (on stderr): a proof loaded under opt-out is not kept as a grant for a later switch.
  for (const [c, n] of Object.entries(summary.grantsNotRecorded ?? {})) ctx.notice(grantsNotRecordedNotice(c, n!));
  if (o.json) return ctx.json(summary);
  ctx.print(formatSummary(summary));
  if (summary.optInsNotApplied > 0) ctx.notice(`${summary.optInsNotApplied} opt-in(s) not applied; use --allow-optin.`);
  if (summary.erasedAddresses > 0) {
    ctx.notice(`${summary.erasedAddresses} profile(s) have an erased address (profile erase): imported, but unreachable on that channel until the person confirms a double opt-in.`);
  }
  if (summary.subscriptionsNotApplied > 0) {
    ctx.notice(`${summary.subscriptionsNotApplied} subscription(s) of unsubscribed profiles not applied; use --allow-optin.`);
  }
}

/** The notice of a channel's `1` cells under an opt-out basis (ImportSummary.grantsNotRecorded). */
export function grantsNotRecordedNotice(channel: string, cells: number): string {
  return (
    `${cells} consent_${channel}=1 cell(s) recorded no grant: ${channel}'s basis is opt-out (there a 1 only lifts an opt-out flag; ` +
    `a grant is recorded only under opt-in: run \`consent policy set ${channel} opt-in\` first, then import).`
  );
}

export function formatSummary(s: ImportSummary): string {
  const verb = s.dryRun ? 'Would import' : 'Imported';
  return [
    `${verb} ${s.file}: ${s.rows} row(s), ${s.profiles} profile(s)${s.duplicatesMerged ? ` (${s.duplicatesMerged} duplicate row(s) merged)` : ''}.`,
    `  new:                 ${s.new}`,
    `  updated:             ${s.updated}`,
    `  unchanged:           ${s.unchanged}`,
    `  opt-outs set:        ${s.optOutsSet}`,
    `  opt-ins applied:     ${s.optInsApplied}`,
    `  opt-ins not applied: ${s.optInsNotApplied}${s.optInsNotApplied && !s.allowOptin ? ' (use --allow-optin)' : ''}`,
    ...(s.erasedAddresses > 0 ? [`  erased addresses:    ${s.erasedAddresses} (unreachable on that channel)`] : []),
    ...(s.subscriptionsSet + s.subscriptionsPending + s.unsubscribed + s.subscriptionsNotApplied > 0
      ? [
          `  subscribed:          ${s.subscriptionsSet}`,
          `  pending (double opt-in): ${s.subscriptionsPending}`,
          `  unsubscribed:        ${s.unsubscribed}`,
          `  subscriptions not applied: ${s.subscriptionsNotApplied}${s.subscriptionsNotApplied && !s.allowOptin ? ' (use --allow-optin)' : ''}`,
        ]
      : []),
    ...(s.grantsAsked !== undefined ? [`  grants (consent_…=1): ${s.grantsAsked} cell(s); ${s.grantEvents ?? 0} grant-only event(s) under an opt-in basis (in the import's block)`] : []),
    `  invalid (skipped):   ${s.invalid}`,
    ...(s.suppressedAddresses > 0 ? [`  suppressed addresses: ${s.suppressedAddresses} (on the suppression list: unreachable there, whatever their flags)`] : []),
    ...(s.phoneChanges > 0 ? [`  phone numbers changed: ${s.phoneChanges} (one \`address\` event each, keys only)`] : []),
    `  ledger events:       ${s.events + (s.grantEvents ?? 0) + s.phoneChanges}${ofWhich(s)}`,
  ].join('\n');
}

/** ", in one block" with the grant-only and `address` events among them named, when there are any. */
function ofWhich(s: ImportSummary): string {
  const parts = [s.grantEvents ? `${s.grantEvents} grant-only` : null, s.phoneChanges ? `${s.phoneChanges} change(s) of phone` : null].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(', ')} among them), in one block` : '';
}

/** Rows, rows/s and percent on stderr, redrawn at most every 200 ms; only on a terminal. */
function progressBar(ctx: CommandContext, size: number | null) {
  const start = performance.now();
  let last = 0;
  let read = 0;
  let rows = 0;
  const draw = () => {
    const secs = (performance.now() - start) / 1000;
    const rate = secs > 0 ? Math.round(rows / secs) : 0;
    let line = `${rows.toLocaleString('en')} rows, ${rate.toLocaleString('en')} rows/s`;
    if (size) {
      const pct = Math.min(100, Math.floor((read / size) * 100));
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${line}`;
    }
    ctx.deps.stderr.write(`\r${line}\x1b[K`);
  };
  return {
    update(n: number, bytes: number) {
      rows = n;
      read = bytes;
      const now = performance.now();
      if (now - last >= 200) {
        last = now;
        draw();
      }
    },
    done() {
      if (size) read = size;
      if (rows > 0 || last > 0) {
        draw();
        ctx.deps.stderr.write('\n');
      }
    },
  };
}
