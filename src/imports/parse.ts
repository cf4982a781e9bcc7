/**
 * Parse and validate: CSV records in, validated rows (flattened for staging),
 * row errors and rejects text out, in batches. Pure apart from reading the
 * input stream, so it runs the same on the main thread or in a worker.
 */
import type { Readable } from 'node:stream';
import { CHANNELS } from '../consent/channels.js';
import { invalid } from '../consent/errors.js';
import { normalisePhone } from '../consent/phone.js';
import { normaliseEmail } from '../consent/profile.js';
import { STAGED_WIDTH, type StagedBatch } from '../consent/bulk.js';
import { csvLine, mapHeader, parseOptOut, unguardCell, type Field, type HeaderMap } from './columns.js';
import { readCsv, type CsvRecord } from './csv-source.js';
import type { Encoding } from './decode.js';

export interface RowError {
  line: number;
  column: string;
  reason: string;
}

/** The first problems are kept; beyond that they are only counted (and written to --rejects). */
export const MAX_ERRORS = 20;

export interface ParsedBatch {
  /** Set on the first batch: the delimiter used, whether it was detected, and the encoding read. */
  delimiter?: { char: string; detected: boolean; encoding: Encoding };
  /** Set on the first batch: the header's unknown columns. */
  unknownColumns?: string[];
  /** Set on the first batch: the services of its `subscribe_<service>` columns, in mask-bit order. */
  services?: string[];
  /** Set on the first batch when the file has `consent_<channel>` columns. */
  consent?: HeaderMap['consent'];
  staged: StagedBatch;
  /** Bytes of input read so far (for progress). */
  bytesRead: number;
  /** The input read so far holds a NUL character (see staged-wire.ts). */
  sawNul: boolean;
  /** Data rows read in this batch (valid and invalid). */
  rows: number;
  invalid: number;
  /** At most MAX_ERRORS per batch. */
  errors: RowError[];
  /** CSV lines for --rejects (the header line first, with a `reason` column); empty when not wanted. */
  rejects: string;
}

export interface ParseResult {
  malformed: RowError[];
  /** The delimiter used (given or detected). */
  delimiter: string;
  sawHeader: boolean;
  /** The services of the file's `subscribe_<service>` columns, in mask-bit order. */
  services: string[];
  /** The file's `consent_<channel>` columns. */
  consent: HeaderMap['consent'];
}

export interface ParseOptions {
  /** Undefined: detected from the header line. */
  delimiter?: string;
  encoding?: Encoding | null;
  /** ISO 3166 alpha-2: the country of national phone numbers; none: they are refused. */
  defaultCountry?: string | null;
  file: string;
  wantRejects: boolean;
  /** The store's service names: a `subscribe_<service>` column naming another one makes the file unusable. */
  knownServices: readonly string[];
}

const NAME_MAX = 200;
const SUB_SHIFT = CHANNELS.length;

interface Layout {
  header: string[];
  delimiter: string;
  defaultCountry: string | null;
  index: Partial<Record<Field, number>>;
  optIdx: (number | undefined)[];
  /** Per opt-out bit, whether its column is a `consent_<channel>` one (its values inverted: 1 grants, 0 refuses). */
  consentBit: boolean[];
  /** Column index of each subscribe_ column, in bit order (after the opt-out bits). */
  subIdx: number[];
}

/** Validates one record into `out` (flattened); returns its problems, each naming its column. */
function validateInto(rec: CsvRecord, l: Layout, out: (string | number | null)[]): RowError[] | null {
  const { header, index, optIdx, subIdx, defaultCountry, consentBit } = l;
  const cells = rec.cells;
  let errors: RowError[] | null = null;
  const fail = (column: string, reason: string) => (errors ??= []).push({ line: rec.line, column, reason });
  const col = (i: number) => header[i]!.trim();
  const cell = (i: number | undefined) => (i === undefined ? '' : unguardCell(cells[i] ?? ''));
  if (cells.length !== header.length) {
    fail('-', `${cells.length} fields where the header has ${header.length} (an unquoted delimiter?)`);
  }
  const emailRaw = cell(index.email);
  let email: string | null = null;
  if (emailRaw.trim() === '') fail(col(index.email!), 'missing email');
  else {
    email = normaliseEmail(emailRaw);
    if (!email) fail(col(index.email!), `"${emailRaw}" is not a valid email address`);
  }
  let phone: string | null = null;
  const phoneRaw = cell(index.phone);
  if (phoneRaw !== '' && phoneRaw.trim() !== '') {
    const r = normalisePhone(phoneRaw, defaultCountry);
    if ('phone' in r) phone = r.phone;
    else fail(col(index.phone!), r.problem);
  }
  const name = (i: number | undefined): string | null => {
    if (i === undefined) return null;
    const v = cell(i).trim();
    if (v.length > NAME_MAX) {
      fail(col(i), `longer than ${NAME_MAX} characters`);
      return null;
    }
    return v === '' ? null : v;
  };
  const firstName = name(index.firstName);
  const lastName = name(index.lastName);
  let set = 0;
  let clear = 0;
  for (let k = 0; k < optIdx.length; k++) {
    const i = optIdx[k];
    if (i === undefined) continue;
    const raw = parseOptOut(cell(i));
    // consent_<channel>: 1 grants (clears the opt-out), 0 refuses (sets it).
    const v = consentBit[k] && (raw === 0 || raw === 1) ? ((1 - raw) as 0 | 1) : raw;
    if (v === 1) set |= 1 << k;
    else if (v === 0) clear |= 1 << k;
    else if (v === undefined && consentBit[k]) fail(col(i), `"${cells[i]}" is not a consent value (1 grants, 0 refuses; true/false, yes/no, y/n too)`);
    else if (v === undefined) fail(col(i), `"${cells[i]}" is not an opt-out value (use 1/0, true/false, yes/no or y/n)`);
  }
  // Subscriptions ride above the opt-out bits: set = subscribe (1), clear = unsubscribe (0).
  for (let k = 0; k < subIdx.length; k++) {
    const i = subIdx[k]!;
    const v = parseOptOut(cell(i));
    if (v === 1) set |= 1 << (SUB_SHIFT + k);
    else if (v === 0) clear |= 1 << (SUB_SHIFT + k);
    else if (v === undefined) fail(col(i), `"${cells[i]}" is not a subscription value (1 subscribes, 0 unsubscribes; true/false, yes/no, y/n too)`);
  }
  if (errors) return errors;
  out.push(email, phone, firstName, lastName, set, clear);
  return null;
}

/**
 * Reads the whole input, calling `onBatch` (awaited: the reader pauses
 * meanwhile) for each chunk of records. A header that cannot be used is an
 * `invalid` error thrown before any row is handled.
 */
export async function parseAndValidate(
  input: Readable,
  options: ParseOptions,
  onBatch: (batch: ParsedBatch) => Promise<void> | void,
): Promise<ParseResult> {
  let layout: Layout | null = null;
  let services: string[] = [];
  let consentColumns: HeaderMap['consent'] = [];
  let used: { char: string; detected: boolean; encoding: Encoding } = { char: options.delimiter ?? ',', detected: false, encoding: 'utf-8' };
  const { malformed, delimiter } = await readCsv(input, {
    delimiter: options.delimiter,
    encoding: options.encoding,
    file: options.file,
    onHeader: (h) => (used = { char: h.delimiter, detected: h.detected, encoding: h.encoding }),
    onRecords: (records, bytesRead, sawNul) => {
      let start = 0;
      let unknownColumns: string[] | undefined;
      let headerServices: string[] | undefined;
      let headerConsent: HeaderMap['consent'] | undefined;
      let rejects = '';
      if (layout === null) {
        if (records.length === 0) return;
        const header = records[0]!.cells;
        const map = mapHeader(header);
        for (const sub of map.subscribe) {
          if (!options.knownServices.includes(sub.service)) {
            map.problems.push(`column "${sub.column}" names no service "${sub.service}" (see \`consent service list\`)`);
          }
        }
        if (map.problems.length > 0) {
          const d = used.char === '\t' ? 'tab' : `"${used.char}"`;
          throw invalid(
            `The header of ${options.file} (read with delimiter ${d}${used.detected ? ', detected' : ''}) cannot be used: ${map.problems.join('; ')}.`,
            used.detected
              ? 'The columns are listed in `consent profile import --help`; if the delimiter is wrong, pass --delimiter.'
              : 'The columns are listed in `consent profile import --help`; check --delimiter (without it, , ; and tab are detected).',
          );
        }
        layout = { delimiter: used.char, defaultCountry: options.defaultCountry ?? null, header, index: map.index, optIdx: CHANNELS.map((c) => map.index[`optout:${c}`]), subIdx: map.subscribe.map((x) => x.index), consentBit: CHANNELS.map((c) => map.consent.some((x) => x.channel === c)) };
        services = map.subscribe.map((x) => x.service);
        consentColumns = map.consent;
        headerConsent = map.consent;
        unknownColumns = map.unknown;
        headerServices = services;
        start = 1;
        if (options.wantRejects) rejects += csvLine([...header, 'reason'], used.char);
      }
      const values: (string | number | null)[] = [];
      const errors: RowError[] = [];
      let invalidRows = 0;
      for (let i = start; i < records.length; i++) {
        const rec = records[i]!;
        const errs = validateInto(rec, layout, values);
        if (errs) {
          invalidRows++;
          for (const e of errs) if (errors.length < MAX_ERRORS) errors.push(e);
          if (options.wantRejects) rejects += csvLine([...rec.cells, errs.map((e) => `${e.column}: ${e.reason}`).join('; ')], layout.delimiter);
        }
      }
      return onBatch({
        delimiter: unknownColumns ? used : undefined,
        unknownColumns,
        services: headerServices,
        ...(headerConsent && headerConsent.length > 0 ? { consent: headerConsent } : {}),
        bytesRead,
        sawNul,
        staged: { rows: values.length / STAGED_WIDTH, values },
        rows: records.length - start,
        invalid: invalidRows,
        errors,
        rejects,
      });
    },
  });
  return {
    delimiter,
    sawHeader: layout !== null,
    services,
    consent: consentColumns,
    malformed: malformed.map((m) => ({ line: m.line, column: '-', reason: `malformed CSV: ${m.message}` })),
  };
}
