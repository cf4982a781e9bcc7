/**
 * The CSV columns of an import and an export, all derived from the channel
 * registry, and the cell-level rules shared by both directions.
 */
import { CHANNEL_INFO, CHANNELS, CONTACT_CHANNELS, type Channel, type ContactChannel } from '../consent/channels.js';

export type Field = 'email' | 'phone' | 'firstName' | 'lastName' | `optout:${Channel}`;

/** `subscribe_<service>`: 1 subscribes (pending for a double opt-in service), 0 unsubscribes. */
export const SUBSCRIBE_PREFIX = 'subscribe_';
/**
 * Subscription cells travel in the staged rows' masks above the opt-out bits
 * (bit CHANNELS.length + k is the k-th subscribe column), so at most this many
 * per file: JavaScript's bitwise operators stop at 31 bits.
 */
export const MAX_SUBSCRIBE_COLUMNS = 31 - CHANNELS.length;

/**
 * `consent_<channel>` (a contact channel): `1` grants consent on the channel
 * (an opt-in recorded as a grant: only with --allow-optin and --proof), `0`
 * refuses it (an opt-out). It gives the same flag as `optout_<channel>`,
 * inverted, so a file may not have both.
 */
export const CONSENT_PREFIX = 'consent_';

/** The columns an export writes, in order; an import reads them back. */
export const EXPORT_COLUMNS: readonly string[] = ['email', 'phone', 'first_name', 'last_name', ...CHANNELS.map((c) => `optout_${c}`)];

/** Every accepted header name (lower-cased) and the field it feeds. */
const HEADER_FIELDS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ['email', 'email'],
  ['phone', 'phone'],
  ['first_name', 'firstName'],
  ['firstname', 'firstName'],
  ['last_name', 'lastName'],
  ['lastname', 'lastName'],
  ...CHANNELS.flatMap((c): [string, Field][] => [
    [`optout_${c}`, `optout:${c}`],
    [CHANNEL_INFO[c].adobeField.toLowerCase(), `optout:${c}`],
  ]),
  ...CONTACT_CHANNELS.map((c): [string, Field] => [`${CONSENT_PREFIX}${c}`, `optout:${c}`]),
]);

export interface HeaderMap {
  /** For each field present, the index of its column. */
  index: Partial<Record<Field, number>>;
  /** Column names that mean nothing to consent (reported, then ignored). */
  unknown: string[];
  /** Problems that make the file unusable (no email column, a field given twice). */
  problems: string[];
  /** The `subscribe_<service>` columns: service names and column indexes, in header order. */
  subscribe: { service: string; column: string; index: number }[];
  /** The `consent_<channel>` columns (their flag's value is inverted: 1 = grant, 0 = refuse), in header order. */
  consent: { channel: ContactChannel; column: string }[];
}

export function mapHeader(header: readonly string[]): HeaderMap {
  const index: HeaderMap['index'] = {};
  const unknown: string[] = [];
  const problems: string[] = [];
  const subscribe: HeaderMap['subscribe'] = [];
  const consent: HeaderMap['consent'] = [];
  header.forEach((raw, i) => {
    const name = raw.trim();
    const field = HEADER_FIELDS.get(name.toLowerCase());
    if (!field && name.toLowerCase().startsWith(SUBSCRIBE_PREFIX)) {
      // Service names are lower-case; the column name is matched case-insensitively like the others.
      const service = name.slice(SUBSCRIBE_PREFIX.length).toLowerCase();
      const prev = subscribe.find((s) => s.service === service);
      if (prev) problems.push(`columns "${prev.column}" and "${name}" both give the subscription to ${service}`);
      else subscribe.push({ service, column: name, index: i });
      return;
    }
    if (!field) {
      unknown.push(name);
      return;
    }
    const prev = index[field];
    if (prev !== undefined) {
      problems.push(`columns "${header[prev]!.trim()}" and "${name}" both give ${field.replace('optout:', 'the opt-out of ')}`);
      return;
    }
    index[field] = i;
    if (name.toLowerCase().startsWith(CONSENT_PREFIX)) consent.push({ channel: field.slice('optout:'.length) as ContactChannel, column: name });
  });
  if (index.email === undefined) problems.push('there is no "email" column (the key of every row)');
  if (subscribe.length > MAX_SUBSCRIBE_COLUMNS) problems.push(`${subscribe.length} subscribe_ columns, at most ${MAX_SUBSCRIBE_COLUMNS} per file`);
  return { index, unknown, problems, subscribe, consent };
}

const TRUE = new Set(['1', 'true', 'yes', 'y']);
const FALSE = new Set(['0', 'false', 'no', 'n']);

/** `1` opted out (or subscribe), `0` not (unsubscribe), `null` leave as is (empty cell), `undefined` not a valid value. */
export function parseOptOut(cell: string): 0 | 1 | null | undefined {
  // The common cells first: this runs seven times per row.
  if (cell === '') return null;
  if (cell === '0') return 0;
  if (cell === '1') return 1;
  const v = cell.trim().toLowerCase();
  if (v === '') return null;
  if (TRUE.has(v)) return 1;
  if (FALSE.has(v)) return 0;
  return undefined;
}

// A spreadsheet runs a cell beginning with one of these as a formula.
const FORMULA_START = /^[=+\-@\t\r]/;
// Already-guarded cells (and values that genuinely start with quotes before
// such a character) get one more quote, so that stripping one is exact.
const NEEDS_GUARD = /^'*[=+\-@\t\r]/;
const GUARDED = /^'+[=+\-@\t\r]/;

// `+` and digits alone is a number to a spreadsheet, never a formula: an
// E.164 phone goes out as stored, as SMS gateways read it.
const PLUS_DIGITS = /^\+\d+$/;

/** The cell as an export writes it: a leading `'` when a spreadsheet would run it. */
export function guardCell(value: string): string {
  return NEEDS_GUARD.test(value) && !PLUS_DIGITS.test(value) ? `'${value}` : value;
}

/** The inverse of guardCell, applied to every imported cell. */
export function unguardCell(cell: string): string {
  return cell.charCodeAt(0) === 39 && GUARDED.test(cell) ? cell.slice(1) : cell;
}

export { FORMULA_START };

/** One CSV record, quoted only where RFC 4180 needs it. */
export function csvLine(cells: readonly string[], delimiter = ','): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    if (i > 0) out += delimiter;
    out += c.includes('"') || c.includes(delimiter) || c.includes('\n') || c.includes('\r') ? `"${c.replace(/"/g, '""')}"` : c;
  }
  return out + '\n';
}
