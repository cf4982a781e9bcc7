/**
 * `profile import`: stream → parse → validate → stage → plan → one atomic
 * write. Every row is validated and staged before anything is written, so a
 * file with a bad row changes nothing.
 */
import { createReadStream, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { STAGED_WIDTH, type BulkStore, type ImportCounts } from '../consent/bulk.js';
import { CHANNELS, CONTACT_CHANNELS, type ContactChannel } from '../consent/channels.js';
import { ConsentError, invalid } from '../consent/errors.js';
import type { ChangeContext } from '../consent/ledger.js';
import type { Encoding } from './decode.js';
import { MAX_ERRORS, parseAndValidate, type ParsedBatch, type ParseOptions, type ParseResult, type RowError } from './parse.js';
import { fromWire, type WireBatch } from './staged-wire.js';

export { MAX_ERRORS, type RowError };

export interface ImportOptions {
  /** Undefined: detected from the header line (`,`, `;` or tab). */
  delimiter?: string;
  /** Undefined or null: UTF-8 (a UTF-16 BOM is recognised). */
  encoding?: Encoding | null;
  /** ISO 3166 alpha-2: the country of national phone numbers. */
  defaultCountry?: string | null;
  /** Called once the header is read (before any rejects are written), with the delimiter and encoding used. */
  onHeader?(info: { delimiter: string; detected: boolean; encoding: Encoding }): void;
  allowOptin: boolean;
  skipInvalid: boolean;
  dryRun: boolean;
  /** Null on a dry run. */
  context: ChangeContext | null;
  /** Where invalid rows go (the original cells plus a `reason` column); each write is awaited (backpressure). */
  rejects?: { write(text: string): Promise<void> | void };
  /** Aborted (SIGINT/SIGTERM): the import stops before its next batch or before it applies, writing nothing. */
  signal?: AbortSignal;
  /** Called after each batch with the data rows and bytes read so far. */
  onProgress?(rows: number, bytes: number): void;
  /**
   * `--proof`: the statement that proves the consent `consent_<channel>=1`
   * cells grant (also in `context.evidence`). Such a cell needs it and
   * allowOptin; without them the import stops before writing anything. The
   * grants are written by the store's `apply`, in the import's transaction.
   */
  proof?: string | null;
  /** The addresses on the suppression list (in force), to count the rows that bring one: email on `email`, phones on `sms`/`phone`. */
  suppressed?: { email: ReadonlySet<string>; phone: ReadonlySet<string> };
}

/** Where the CSV comes from: a file (parsed in a worker thread when large) or any stream. */
export type ImportInput = { path: string; size: number } | { stream: Readable };

export interface ImportSummary extends Omit<ImportCounts, 'grantEvents'> {
  /** Only for a file with consent_<channel> columns (see ImportCounts.grantEvents). */
  grantEvents?: number;
  file: string;
  source: string;
  dryRun: boolean;
  /** The field delimiter used (given or detected). */
  delimiter: string;
  /** Data rows read (blank lines not counted). */
  rows: number;
  invalid: number;
  unknownColumns: string[];
  allowOptin: boolean;
  /** The first errors (at most MAX_ERRORS). */
  errors: RowError[];
  /**
   * Valid rows whose email or phone is on the suppression list: their
   * profiles are unreachable on that channel from the start, whatever their flags.
   */
  suppressedAddresses: number;
  /**
   * Only for a file with consent_<channel> columns: the `1` cells (grants
   * asked); and `grantEvents` (ImportCounts) is then given too.
   */
  grantsAsked?: number;
  /**
   * Only with consent_<channel> columns: per channel whose basis was opt-out
   * at the import, its `1` cells (none recorded a grant-only event: a grant is
   * recorded only under opt-in; a 1 there only lifts an opt-out flag).
   */
  grantsNotRecorded?: Partial<Record<ContactChannel, number>>;
}

/** Thrown when invalid rows stop an import; carries the summary for printing. */
export class InvalidRowsError extends Error {
  constructor(readonly summary: ImportSummary) {
    super(`${summary.invalid} invalid row(s); nothing was written.`);
  }
}

/** `import:<file name>`, `import:-` for stdin: the ledger source of every event. */
export function importSource(file: string): string {
  if (file === '-') return 'import:-';
  return `import:${file.split(/[\\/]/).pop()}`;
}

/** Below this a worker thread costs more than it saves. */
const WORKER_MIN_BYTES = 4 << 20;
const WORKER_URL = new URL('./parse-worker.js', import.meta.url);

/** Runs the parse in a worker thread; batches arrive in order and are acknowledged one by one. */
function parseInWorker(
  path: string,
  options: ParseOptions,
  onBatch: (batch: ParsedBatch) => Promise<void> | void,
): Promise<ParseResult> {
  return new Promise((resolve, reject) => {
    // Bounded heaps: the parser holds only a few batches at a time, and its young garbage is short-lived (a
    // young generation of 16 MiB rather than 8: measured, a million-row parse spent a quarter of its time
    // in the collector, and a PostgreSQL first load's reading phase went from 6.8–6.9 s to 5.8–6.0 s, peak RSS +5 MB).
    const worker = new Worker(WORKER_URL, { workerData: { path, ...options }, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 } });
    let settled = false;
    let chain = Promise.resolve();
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(e);
    };
    type Message = { type: string; batch?: Omit<ParsedBatch, 'staged'> & { staged: WireBatch }; result?: ParseResult; error?: { kind?: string; message: string; hint?: string } };
    worker.on('message', (m: Message) => {
      if (m.type === 'batch') {
        chain = chain.then(async () => {
          if (settled) return;
          await onBatch({ ...m.batch!, staged: fromWire(m.batch!.staged) });
          worker.postMessage('ack');
        }).catch(fail);
      } else if (m.type === 'done') {
        chain.then(() => {
          if (!settled) {
            settled = true;
            resolve(m.result!);
          }
        }, fail);
      } else if (m.type === 'error') {
        const err = m.error!;
        fail(err.kind ? new ConsentError(err.kind as ConsentError['kind'], err.message, err.hint) : new Error(err.message));
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`the CSV parser thread stopped (exit code ${code})`));
    });
  });
}

export async function importProfiles(bulk: BulkStore, input: ImportInput, file: string, options: ImportOptions): Promise<ImportSummary> {
  const session = await bulk.beginImport(options.dryRun ? null : options.context, { mayLoadDirectly: 'path' in input });
  try {
    let unknownColumns: string[] = [];
    let rows = 0;
    let invalidRows = 0;
    let suppressedAddresses = 0;
    const errors: RowError[] = [];
    // consent_<channel> columns: the `1` cells are clear bits of their channel (a grant), counted here, recorded by apply.
    let consentMask = 0;
    let consentColumns: { channel: string; column: string }[] = [];
    let grantsAsked = 0;
    const askedByBit = CHANNELS.map(() => 0); // the `1` cells per channel bit
    const suppressed = options.suppressed && (options.suppressed.email.size > 0 || options.suppressed.phone.size > 0) ? options.suppressed : null;
    const onBatch = async (b: ParsedBatch) => {
      options.signal?.throwIfAborted();
      if (b.delimiter) options.onHeader?.({ delimiter: b.delimiter.char, detected: b.delimiter.detected, encoding: b.delimiter.encoding });
      if (b.unknownColumns) unknownColumns = b.unknownColumns;
      if (b.consent) {
        consentColumns = b.consent;
        for (const x of b.consent) consentMask |= 1 << CHANNELS.indexOf(x.channel as (typeof CHANNELS)[number]);
      }
      if (b.services) await session.header({ services: b.services, grantable: consentMask });
      if (consentMask !== 0) {
        const v = b.staged.values;
        for (let i = 0; i < b.staged.rows; i++) {
          for (let m = (v[i * STAGED_WIDTH + 5] as number) & consentMask; m !== 0; m &= m - 1) {
            grantsAsked++;
            askedByBit[31 - Math.clz32(m & -m)]!++;
          }
        }
      }
      rows += b.rows;
      invalidRows += b.invalid;
      for (const e of b.errors) if (errors.length < MAX_ERRORS) errors.push(e);
      if (b.rejects) await options.rejects?.write(b.rejects);
      if (suppressed) {
        const v = b.staged.values;
        for (let i = 0; i < b.staged.rows; i++) {
          const phone = v[i * STAGED_WIDTH + 1];
          if (suppressed.email.has(v[i * STAGED_WIDTH] as string) || (typeof phone === 'string' && suppressed.phone.has(phone))) suppressedAddresses++;
        }
      }
      if (b.staged.rows > 0) await session.stage(b.staged);
      options.onProgress?.(rows, b.bytesRead);
    };
    const parseOptions: ParseOptions = { delimiter: options.delimiter, encoding: options.encoding, defaultCountry: options.defaultCountry, file, wantRejects: options.rejects !== undefined, knownServices: await bulk.serviceNames() };
    const useWorker = 'path' in input && input.size >= WORKER_MIN_BYTES && existsSync(fileURLToPath(WORKER_URL));
    const { malformed, sawHeader, services, delimiter } = useWorker
      ? await parseInWorker((input as { path: string }).path, parseOptions, onBatch)
      : await parseAndValidate('stream' in input ? input.stream : createReadStream(input.path), parseOptions, onBatch);
    if (!sawHeader) throw invalid(`${file} is empty: there is not even a header line.`);
    // A quoting error (an unclosed quote) leaves the rest of the file unreadable as meant.
    for (const m of malformed) {
      invalidRows++;
      if (errors.length < MAX_ERRORS) errors.push(m);
    }

    const base = { file, source: importSource(file), dryRun: options.dryRun, delimiter, rows, invalid: invalidRows, unknownColumns, allowOptin: options.allowOptin, errors, suppressedAddresses };
    if ((invalidRows > 0 && !options.skipInvalid) || malformed.length > 0) {
      const none: Omit<ImportCounts, 'grantEvents'> = {
        profiles: 0, new: 0, updated: 0, unchanged: 0, duplicatesMerged: 0, optOutsSet: 0, optInsApplied: 0, optInsNotApplied: 0,
        subscriptionsSet: 0, subscriptionsPending: 0, unsubscribed: 0, subscriptionsNotApplied: 0, erasedAddresses: 0, events: 0, phoneChanges: 0,
      };
      throw new InvalidRowsError({ ...base, ...none, dryRun: true });
    }
    if (grantsAsked > 0 && (!options.allowOptin || !options.proof)) {
      const columns = consentColumns.map((x) => x.column).join(', ');
      const missing = [!options.allowOptin ? '--allow-optin' : null, !options.proof ? '--proof "<statement>"' : null].filter(Boolean).join(' and ');
      throw invalid(
        `${file}: ${grantsAsked} cell(s) of ${columns} grant consent (a 1), which needs ${missing}; nothing was written.`,
        'Give --allow-optin and --proof "<what proves the consent: the form, its version, when it was collected>", or remove the 1 cells.',
      );
    }
    options.signal?.throwIfAborted();
    const { grantEvents, ...counts } = await session.apply({ allowOptin: options.allowOptin, services, grantable: consentMask }, options.dryRun ? null : options.context);
    if (consentColumns.length === 0) return { ...base, ...counts };
    // The `1` cells of channels under an opt-out basis: no grant-only event there (planGrants' rule), said, not silent.
    const optOut = session.optOutConsent();
    const grantsNotRecorded: Partial<Record<ContactChannel, number>> = {};
    for (const c of CONTACT_CHANNELS) {
      const bit = CHANNELS.indexOf(c);
      if (optOut & (1 << bit) && askedByBit[bit]! > 0) grantsNotRecorded[c] = askedByBit[bit]!;
    }
    return { ...base, ...counts, grantsAsked, grantEvents, grantsNotRecorded };
  } finally {
    await session.discard();
  }
}
