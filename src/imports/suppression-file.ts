/**
 * `suppression import`: the suppression files users actually have, read into
 * validated entries, with every problem named by line (or entry) and field.
 * Nothing here writes: the command hands the entries to the store in one
 * atomic add. Shapes, as their providers document them:
 *
 * - `ses`: Amazon SES's bulk-import file for the account-level suppression
 *   list, CSV without a header (`recipient@example.com,BOUNCE`, a header
 *   `email,reason` / `emailAddress,reason` is accepted too) or JSON lines
 *   (`{"emailAddress": "…", "reason": "BOUNCE"}`); and the output of `aws sesv2
 *   list-suppressed-destinations` (`{"SuppressedDestinationSummaries": [{"EmailAddress",
 *   "Reason", "LastUpdateTime"}]}`). BOUNCE → hard-bounce, COMPLAINT → complaint.
 * - `postmark`: the Suppressions API's dump (`{"Suppressions": [{"EmailAddress",
 *   "SuppressionReason", "Origin", "CreatedAt"}]}`), or the same columns as CSV.
 *   HardBounce → hard-bounce, SpamComplaint → complaint, ManualSuppression →
 *   unsubscribe when its Origin is Recipient (the person used the link), else manual.
 * - `sendgrid`: the CSV exports of the suppression lists (the API's fields as
 *   columns): bounces (`email`, `created`, `reason`, `status`) → hard-bounce,
 *   spam reports (`email`, `created`, `ip`) → complaint, global unsubscribes
 *   (`email`, `created`) → unsubscribe; or the API's JSON array of those.
 * - `consent`: what `suppression export` writes, CSV (`channel,address,reason,
 *   origin,created_at,expires_at,note`) or JSON lines (`channel`, `address`,
 *   `reason`, `origin`, `createdAt`, `expiresAt`, `note`).
 */
import { Readable } from 'node:stream';
import { invalid } from '../consent/errors.js';
import { normaliseEmail } from '../consent/profile.js';
import { isSuppressionChannel, isValidReason, type SuppressionChannel } from '../consent/suppressions.js';
import { unguardCell } from './columns.js';
import { readCsv, type CsvRecord } from './csv-source.js';

export const SUPPRESSION_FORMATS = ['consent', 'ses', 'postmark', 'sendgrid'] as const;
export type SuppressionFormat = (typeof SUPPRESSION_FORMATS)[number];

/** One valid entry of the file. */
export interface SuppressionFileRow {
  /** Where it is: `line 3`, or `entry 2` in a JSON document. */
  where: string;
  channel: SuppressionChannel;
  address: string;
  reason: string;
  note: string | null;
  expiresAt: string | null;
}

export interface SuppressionFileProblem {
  /** The file's line (null in a JSON document, where `entry` says which). */
  line: number | null;
  entry: number | null;
  field: string;
  reason: string;
}

export interface ParsedSuppressionFile {
  format: SuppressionFormat;
  /** The shape read, e.g. `ses csv`, `postmark dump`, `sendgrid bounces`. */
  shape: string;
  /** Records read (entries or data lines). */
  records: number;
  rows: SuppressionFileRow[];
  problems: SuppressionFileProblem[];
  /** Entries of the `consent` format whose expiry has passed: left out. */
  expired: number;
}

export interface ReadOptions {
  format: SuppressionFormat | 'auto';
  /** Country of national phone numbers (consent format). */
  defaultCountry?: string | null;
  /** Now (ISO), to leave out expired entries. */
  now: string;
  file: string;
}

type Cell = string | undefined;
/** What a row's fields say, before validation. */
interface RawEntry {
  line: number | null;
  entry: number | null;
  address: { field: string; value: Cell };
  channel?: { field: string; value: Cell };
  reason: { field: string; value: Cell; map: (v: string) => string | null; expected: string };
  note?: string | null;
  expiresAt?: { field: string; value: Cell };
}

const SES_REASONS: Record<string, string> = { BOUNCE: 'hard-bounce', COMPLAINT: 'complaint' };
const sesReason = (v: string) => SES_REASONS[v.trim().toUpperCase()] ?? null;

function postmarkReason(origin: Cell) {
  return (v: string) => {
    switch (v.trim()) {
      case 'HardBounce':
        return 'hard-bounce';
      case 'SpamComplaint':
        return 'complaint';
      case 'ManualSuppression':
        return origin?.trim() === 'Recipient' ? 'unsubscribe' : 'manual';
      default:
        return null;
    }
  };
}

const ownReason = (v: string) => (isValidReason(v.trim()) ? v.trim() : null);
const fixed = (reason: string) => () => reason;

const lower = (s: string) => s.trim().replace(/^\uFEFF/, '').toLowerCase();

/** Reads the file's bytes (UTF-8, a BOM allowed) and returns its entries and problems; throws only when the file as a whole is unreadable. */
export async function readSuppressionFile(bytes: Buffer, options: ReadOptions): Promise<ParsedSuppressionFile> {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  // The BOM goes before the CSV reader sees it: followed by a quote (`\uFEFF"email"`) it would keep the quotes in the first cell.
  const withoutBom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  const parsed = first === '{' || first === '[' ? readJson(text, options) : await readCsvFile(withoutBom, options);
  if (options.format !== 'auto' && parsed.format !== options.format) {
    throw invalid(
      `${options.file} does not look like a ${options.format} file: it reads as ${parsed.shape} (${parsed.format}).`,
      `Pass --format ${parsed.format} (or --format auto), or check the file. See \`consent help suppression\` for the shapes read.`,
    );
  }
  return validate(parsed, options);
}

type Unvalidated = { format: SuppressionFormat; shape: string; records: number; entries: RawEntry[] };

function readJson(text: string, options: ReadOptions): Unvalidated {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return readJsonLines(text, options);
  }
  const obj = doc as Record<string, unknown>;
  if (obj && !Array.isArray(doc) && Array.isArray(obj.Suppressions)) {
    const list = obj.Suppressions as Record<string, Cell>[];
    return {
      format: 'postmark',
      shape: 'postmark dump',
      records: list.length,
      entries: list.map((s, i) => ({
        line: null,
        entry: i + 1,
        address: { field: 'EmailAddress', value: str(s?.EmailAddress) },
        reason: { field: 'SuppressionReason', value: str(s?.SuppressionReason), map: postmarkReason(str(s?.Origin)), expected: 'HardBounce, SpamComplaint or ManualSuppression' },
        note: since('Postmark', str(s?.Origin), str(s?.CreatedAt)),
      })),
    };
  }
  if (obj && !Array.isArray(doc) && Array.isArray(obj.SuppressedDestinationSummaries)) {
    const list = obj.SuppressedDestinationSummaries as Record<string, Cell>[];
    return {
      format: 'ses',
      shape: 'ses list-suppressed-destinations output',
      records: list.length,
      entries: list.map((s, i) => ({
        line: null,
        entry: i + 1,
        address: { field: 'EmailAddress', value: str(s?.EmailAddress) },
        reason: { field: 'Reason', value: str(s?.Reason), map: sesReason, expected: 'BOUNCE or COMPLAINT' },
        note: since('SES', undefined, str(s?.LastUpdateTime)),
      })),
    };
  }
  if (Array.isArray(doc) && doc.every((x) => x && typeof x === 'object' && 'email' in x)) {
    const list = doc as Record<string, Cell>[];
    const kind = sendgridKind(Object.keys(list[0] ?? { email: 1 }).map(lower));
    return {
      format: 'sendgrid',
      shape: `sendgrid ${kind.name} (JSON)`,
      records: list.length,
      entries: list.map((s, i) => ({
        line: null,
        entry: i + 1,
        address: { field: 'email', value: str(s.email) },
        reason: { field: 'email', value: 'x', map: fixed(kind.reason), expected: '' },
        note: since('SendGrid', kind.name, str(s.created)),
      })),
    };
  }
  throw invalid(
    `${options.file} is JSON but not a suppression list this tool reads.`,
    'Expected a Postmark dump ({"Suppressions": [...]}), `aws sesv2 list-suppressed-destinations` output, a SendGrid JSON array, or JSON lines.',
  );
}

function readJsonLines(text: string, options: ReadOptions): Unvalidated {
  const entries: RawEntry[] = [];
  let format: SuppressionFormat | null = null;
  let records = 0;
  text.split(/\r?\n/).forEach((l, i) => {
    if (l.trim() === '') return;
    records++;
    let o: Record<string, unknown> | null = null;
    try {
      const v = JSON.parse(l) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) o = v as Record<string, unknown>;
    } catch {
      // named below, as a line that is not a JSON object
    }
    if (!o) {
      entries.push({ line: i + 1, entry: null, address: { field: 'line', value: undefined }, reason: { field: 'line', value: undefined, map: () => null, expected: '' } });
      return;
    }
    const kind: SuppressionFormat = 'emailAddress' in o ? 'ses' : 'consent';
    format ??= kind;
    entries.push(
      kind === 'ses'
        ? {
            line: i + 1,
            entry: null,
            address: { field: 'emailAddress', value: str(o.emailAddress) },
            reason: { field: 'reason', value: str(o.reason), map: sesReason, expected: 'BOUNCE or COMPLAINT' },
          }
        : {
            line: i + 1,
            entry: null,
            address: { field: 'address', value: str(o.address) },
            channel: { field: 'channel', value: str(o.channel) },
            reason: { field: 'reason', value: str(o.reason), map: ownReason, expected: 'a reason such as hard-bounce, complaint, manual' },
            note: str(o.note) ?? null,
            expiresAt: { field: 'expiresAt', value: str(o.expiresAt) },
          },
    );
  });
  if (format === null) throw invalid(`${options.file} is neither JSON nor CSV that this tool reads (its first line is not a JSON object).`);
  return { format, shape: format === 'ses' ? 'ses JSON lines' : 'consent JSON lines', records, entries };
}

function sendgridKind(header: readonly string[]): { name: string; reason: string } {
  if (header.includes('ip')) return { name: 'spam reports', reason: 'complaint' };
  if (header.includes('status') || header.includes('reason')) return { name: 'bounces', reason: 'hard-bounce' };
  return { name: 'global unsubscribes', reason: 'unsubscribe' };
}

async function readCsvFile(bytes: Buffer, options: ReadOptions): Promise<Unvalidated> {
  const records: CsvRecord[] = [];
  const { malformed } = await readCsv(Readable.from([bytes]), {
    file: options.file,
    onRecords: (batch) => {
      for (const r of batch) records.push({ line: r.line, cells: r.cells.map(unguardCell) });
    },
  });
  if (malformed.length > 0) throw invalid(`${options.file}, line ${malformed[0]!.line}: ${malformed[0]!.message}.`, 'Fix the quoting of that line.');
  if (records.length === 0) throw invalid(`${options.file} is empty.`);
  const header = records[0]!.cells.map(lower);
  const col = (name: string) => header.indexOf(name.toLowerCase());
  const data = records.slice(1);
  const at = (r: CsvRecord, i: number): Cell => (i >= 0 ? r.cells[i] : undefined);

  // SES without a header: `address,BOUNCE` from the first line on.
  if (records[0]!.cells.length === 2 && sesReason(records[0]!.cells[1]!) !== null) {
    return sesCsv(records, 0, 1, 'ses csv (no header)');
  }
  if ((col('email') >= 0 || col('emailaddress') >= 0) && col('reason') >= 0 && header.length === 2) {
    return sesCsv(data, Math.max(col('email'), col('emailaddress')), col('reason'), 'ses csv');
  }
  if (col('emailaddress') >= 0 && col('suppressionreason') >= 0) {
    const [e, r, o, c] = [col('emailaddress'), col('suppressionreason'), col('origin'), col('createdat')];
    return {
      format: 'postmark',
      shape: 'postmark csv',
      records: data.length,
      entries: data.map((rec) => ({
        line: rec.line,
        entry: null,
        address: { field: 'EmailAddress', value: at(rec, e) },
        reason: { field: 'SuppressionReason', value: at(rec, r), map: postmarkReason(at(rec, o)), expected: 'HardBounce, SpamComplaint or ManualSuppression' },
        note: since('Postmark', at(rec, o), at(rec, c)),
      })),
    };
  }
  if (col('channel') >= 0 && col('address') >= 0 && col('reason') >= 0) {
    const [ch, a, r, n, x] = [col('channel'), col('address'), col('reason'), col('note'), col('expires_at')];
    return {
      format: 'consent',
      shape: 'consent csv',
      records: data.length,
      entries: data.map((rec) => ({
        line: rec.line,
        entry: null,
        address: { field: 'address', value: at(rec, a) },
        channel: { field: 'channel', value: at(rec, ch) },
        reason: { field: 'reason', value: at(rec, r), map: ownReason, expected: 'a reason such as hard-bounce, complaint, manual' },
        note: at(rec, n) || null,
        expiresAt: { field: 'expires_at', value: at(rec, x) },
      })),
    };
  }
  if (col('email') >= 0 && col('created') >= 0) {
    const kind = sendgridKind(header);
    const [e, c] = [col('email'), col('created')];
    return {
      format: 'sendgrid',
      shape: `sendgrid ${kind.name}`,
      records: data.length,
      entries: data.map((rec) => ({
        line: rec.line,
        entry: null,
        address: { field: 'email', value: at(rec, e) },
        reason: { field: 'email', value: 'x', map: fixed(kind.reason), expected: '' },
        note: since('SendGrid', kind.name, at(rec, c)),
      })),
    };
  }
  throw invalid(
    `${options.file}: the header (${records[0]!.cells.join(', ')}) is not one of a suppression list this tool reads.`,
    'Expected SES (email,reason), Postmark (EmailAddress, SuppressionReason, …), SendGrid (email, created, …) or consent (channel, address, reason, …) columns.',
  );
}

function sesCsv(records: CsvRecord[], e: number, r: number, shape: string): Unvalidated {
  return {
    format: 'ses',
    shape,
    records: records.length,
    entries: records.map((rec) => ({
      line: rec.line,
      entry: null,
      address: { field: 'email', value: rec.cells[e] },
      reason: { field: 'reason', value: rec.cells[r], map: sesReason, expected: 'BOUNCE or COMPLAINT' },
    })),
  };
}

const str = (v: unknown): Cell => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** A note saying where and since when the provider had it (kept in the suppression list, never in the ledger). */
function since(provider: string, detail: Cell, time: Cell): string {
  const t = time?.trim();
  const when = t ? (/^\d{9,11}$/.test(t) ? new Date(Number(t) * 1000).toISOString() : t) : null;
  return `${provider}${detail ? ` (${detail.trim()})` : ''}${when ? ` since ${when}` : ''}`;
}

async function validate(u: Unvalidated, options: ReadOptions): Promise<ParsedSuppressionFile> {
  const rows: SuppressionFileRow[] = [];
  const problems: SuppressionFileProblem[] = [];
  let expired = 0;
  let phones: typeof import('../consent/phone.js') | null = null;
  for (const e of u.entries) {
    const where = e.line !== null ? `line ${e.line}` : `entry ${e.entry}`;
    const problem = (field: string, reason: string) => problems.push({ line: e.line, entry: e.entry, field, reason });
    if (e.address.field === 'line') {
      problem('line', 'not a JSON object');
      continue;
    }
    const rawReason = e.reason.value?.trim() ?? '';
    const reason = rawReason === '' ? null : e.reason.map(rawReason);
    if (reason === null) {
      problem(e.reason.field, rawReason === '' ? `missing (expected ${e.reason.expected})` : `"${rawReason}" is not ${e.reason.expected}`);
      continue;
    }
    let channel: SuppressionChannel = 'email';
    if (e.channel) {
      const c = e.channel.value?.trim().toLowerCase() ?? '';
      if (!isSuppressionChannel(c)) {
        problem(e.channel.field, c === '' ? 'missing (expected email, sms or phone)' : `"${c}" is not email, sms or phone`);
        continue;
      }
      channel = c;
    }
    const rawAddress = e.address.value?.trim() ?? '';
    let address: string | null;
    if (channel === 'email') {
      address = normaliseEmail(rawAddress);
      if (!address) {
        problem(e.address.field, rawAddress === '' ? 'missing' : `"${rawAddress}" is not an email address`);
        continue;
      }
    } else {
      phones ??= await import('../consent/phone.js');
      const r = phones.normalisePhone(rawAddress, options.defaultCountry);
      if ('problem' in r) {
        problem(e.address.field, r.problem);
        continue;
      }
      address = r.phone;
    }
    let expiresAt: string | null = null;
    const rawExpiry = e.expiresAt?.value?.trim() ?? '';
    if (rawExpiry !== '') {
      const t = Date.parse(rawExpiry);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(rawExpiry) || Number.isNaN(t)) {
        problem(e.expiresAt!.field, `"${rawExpiry}" is not an ISO 8601 time`);
        continue;
      }
      expiresAt = new Date(t).toISOString();
      if (expiresAt <= options.now) {
        expired++;
        continue;
      }
    }
    rows.push({ where, channel, address, reason, note: e.note ?? null, expiresAt });
  }
  return { format: u.format, shape: u.shape, records: u.records, rows, problems, expired };
}
