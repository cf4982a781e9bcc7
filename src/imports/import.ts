/**
 * `profile import`: stream → parse → validate → stage → plan → one atomic
 * write. Every row is validated and staged before anything is written, so a
 * file with a bad row changes nothing.
 */
import type { Readable } from 'node:stream';
import { CHANNELS } from '../consent/channels.js';
import { invalid } from '../consent/errors.js';
import type { ChangeContext } from '../consent/ledger.js';
import { normaliseEmail, normalisePhone } from '../consent/profile.js';
import type { BulkStore, ImportCounts, StagedRow } from '../consent/bulk.js';
import { csvLine, mapHeader, parseOptOut, unguardCell, type Field } from './columns.js';
import { readCsv, type CsvRecord } from './csv-source.js';

export interface ImportOptions {
  delimiter: string;
  allowOptin: boolean;
  skipInvalid: boolean;
  dryRun: boolean;
  /** Null on a dry run. */
  context: ChangeContext | null;
  /** Where invalid rows go (the original cells plus a `reason` column). */
  rejects?: { write(text: string): void };
  /** Called after each batch with the data rows read so far. */
  onProgress?(rows: number): void;
}

export interface RowError {
  line: number;
  column: string;
  reason: string;
}

export interface ImportSummary extends ImportCounts {
  file: string;
  source: string;
  dryRun: boolean;
  /** Data rows read (blank lines not counted). */
  rows: number;
  invalid: number;
  unknownColumns: string[];
  allowOptin: boolean;
  /** The first errors (at most MAX_ERRORS). */
  errors: RowError[];
}

export const MAX_ERRORS = 20;

/** The thrown error when invalid rows stop an import; carries the summary for printing. */
export class InvalidRowsError extends Error {
  constructor(
    readonly summary: ImportSummary,
  ) {
    super(`${summary.invalid} invalid row(s); nothing was written.`);
  }
}

const NAME_MAX = 200;

/** Validates one record; returns the staged row or the problems, each naming its column. */
export function validateRecord(
  rec: CsvRecord,
  index: Partial<Record<Field, number>>,
  header: readonly string[],
  optIdx: readonly (number | undefined)[],
): StagedRow | RowError[] {
  const cells = rec.cells;
  const errors: RowError[] = [];
  const col = (i: number) => header[i]!.trim();
  if (cells.length !== header.length) {
    errors.push({ line: rec.line, column: '-', reason: `${cells.length} fields where the header has ${header.length} (an unquoted delimiter?)` });
  }
  const cell = (i: number | undefined) => (i === undefined ? '' : unguardCell(cells[i] ?? ''));

  const emailRaw = cell(index.email);
  let email: string | null = null;
  if (emailRaw.trim() === '') errors.push({ line: rec.line, column: col(index.email!), reason: 'missing email' });
  else {
    email = normaliseEmail(emailRaw);
    if (!email) errors.push({ line: rec.line, column: col(index.email!), reason: `"${emailRaw}" is not a valid email address` });
  }
  let phone: string | null = null;
  const phoneRaw = cell(index.phone);
  if (phoneRaw.trim() !== '') {
    phone = normalisePhone(phoneRaw);
    if (!phone) {
      errors.push({
        line: rec.line,
        column: col(index.phone!),
        reason: `"${phoneRaw}" is not a phone number in international form (e.g. +33612345678)`,
      });
    }
  }
  const name = (i: number | undefined): string | null => {
    const v = cell(i).trim();
    if (v.length > NAME_MAX) {
      errors.push({ line: rec.line, column: col(i!), reason: `longer than ${NAME_MAX} characters` });
      return null;
    }
    return v === '' ? null : v;
  };
  const firstName = name(index.firstName);
  const lastName = name(index.lastName);
  const optOut: (0 | 1 | null)[] = new Array(optIdx.length);
  for (let k = 0; k < optIdx.length; k++) {
    const i = optIdx[k];
    if (i === undefined) {
      optOut[k] = null;
      continue;
    }
    const v = parseOptOut(cell(i));
    if (v === undefined) {
      errors.push({ line: rec.line, column: col(i), reason: `"${cells[i]}" is not an opt-out value (use 1/0, true/false, yes/no or y/n)` });
      optOut[k] = null;
    } else optOut[k] = v;
  }
  if (errors.length > 0) return errors;
  return { line: rec.line, email: email!, phone, firstName, lastName, optOut };
}

/** `import:<file name>`, `import:-` for stdin: the ledger source of every event. */
export function importSource(file: string): string {
  if (file === '-') return 'import:-';
  return `import:${file.split(/[\\/]/).pop()}`;
}

export async function importProfiles(
  bulk: BulkStore,
  input: Readable,
  file: string,
  options: ImportOptions,
): Promise<ImportSummary> {
  const session = await bulk.beginImport();
  try {
    let header: string[] | null = null;
    let index: Partial<Record<Field, number>> = {};
    let optIdx: (number | undefined)[] = [];
    let unknownColumns: string[] = [];
    let rows = 0;
    let invalidRows = 0;
    const errors: RowError[] = [];
    const noteErrors = (rec: CsvRecord, errs: RowError[]) => {
      invalidRows++;
      for (const e of errs) if (errors.length < MAX_ERRORS) errors.push(e);
      options.rejects?.write(csvLine([...rec.cells, errs.map((e) => `${e.column}: ${e.reason}`).join('; ')]));
    };

    const { malformed } = await readCsv(input, {
      delimiter: options.delimiter,
      onRecords: async (records) => {
        let start = 0;
        if (header === null) {
          if (records.length === 0) return;
          header = records[0]!.cells;
          start = 1;
          const map = mapHeader(header);
          if (map.problems.length > 0) {
            throw invalid(`The header of ${file} cannot be used: ${map.problems.join('; ')}.`, 'The columns are listed in `consent profile import --help`.');
          }
          index = map.index;
          unknownColumns = map.unknown;
          optIdx = CHANNELS.map((c) => map.index[`optout:${c}`]);
          options.rejects?.write(csvLine([...header, 'reason']));
        }
        const staged: StagedRow[] = [];
        for (let i = start; i < records.length; i++) {
          const rec = records[i]!;
          rows++;
          const r = validateRecord(rec, index, header, optIdx);
          if (Array.isArray(r)) noteErrors(rec, r);
          else staged.push(r);
        }
        if (staged.length > 0) await session.stage(staged);
        options.onProgress?.(rows);
      },
    });
    if (header === null) throw invalid(`${file} is empty: there is not even a header line.`);
    // Quoting errors (an unclosed quote) make the rest of the file unreadable as meant.
    for (const m of malformed) {
      invalidRows++;
      if (errors.length < MAX_ERRORS) errors.push({ line: m.line, column: '-', reason: `malformed CSV: ${m.message}` });
    }

    const base = {
      file,
      source: importSource(file),
      dryRun: options.dryRun,
      rows,
      invalid: invalidRows,
      unknownColumns,
      allowOptin: options.allowOptin,
      errors,
    };
    const empty: ImportCounts = {
      profiles: 0, new: 0, updated: 0, unchanged: 0, duplicatesMerged: 0, optOutsSet: 0, optInsApplied: 0, optInsNotApplied: 0, events: 0,
    };
    if ((invalidRows > 0 && !options.skipInvalid) || malformed.length > 0) {
      throw new InvalidRowsError({ ...base, ...empty, dryRun: true });
    }
    const counts = await session.apply({ allowOptin: options.allowOptin }, options.dryRun ? null : options.context);
    return { ...base, ...counts };
  } finally {
    await session.discard();
  }
}
