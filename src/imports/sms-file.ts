/**
 * A provider's export of inbound SMS, or another provider's webhook relay:
 * CSV (a header line naming `from,body,received_at[,to,message_id]`, in any
 * order) or JSON Lines (one object per line with those keys). Every line is
 * checked before anything is recorded; errors name the line and the field.
 */
import Papa from 'papaparse';
import { ConsentError } from '../consent/errors.js';
import { normalisePhone } from '../consent/phone.js';
import type { InboundSms } from '../consent/sms-inbound.js';

export const SMS_FILE_COLUMNS = ['from', 'body', 'received_at', 'to', 'message_id'] as const;
const REQUIRED = ['from', 'body', 'received_at'] as const;
const MAX_ERRORS = 20;

export interface SmsFileLine extends InboundSms {
  line: number;
}

export interface LineError {
  line: number;
  column: string;
  reason: string;
}

/** An ISO-8601 time (`2026-06-01T10:00:00Z`, with an offset, or a date alone), as the tool writes times; null when unreadable. */
export function parseSmsTime(raw: string): string | null {
  const s = raw.trim();
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return null;
  const t = new Date(s.replace(' ', 'T'));
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** One line's fields into a message, or the errors of its fields. */
export function checkSmsFields(fields: Record<string, unknown>, line: number, provider: string): { message: SmsFileLine } | { errors: LineError[] } {
  const errors: LineError[] = [];
  const text = (name: string) => {
    const v = fields[name];
    return v === undefined || v === null ? undefined : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
  };
  for (const name of [...REQUIRED, 'to', 'message_id']) {
    if (text(name) === null) errors.push({ line, column: name, reason: 'is not text' });
  }
  const from = text('from')?.trim() ?? '';
  const body = text('body');
  const at = text('received_at') ?? '';
  let phone: string | null = null;
  if (from === '') errors.push({ line, column: 'from', reason: 'is empty: the sending number is needed' });
  else {
    const p = normalisePhone(from);
    if ('phone' in p) phone = p.phone;
    else errors.push({ line, column: 'from', reason: p.problem });
  }
  if (body === undefined) errors.push({ line, column: 'body', reason: 'is missing' });
  const receivedAt = parseSmsTime(at);
  if (receivedAt === null) errors.push({ line, column: 'received_at', reason: at.trim() === '' ? 'is empty' : `"${at}" is not an ISO-8601 time (e.g. 2026-06-01T10:00:00Z)` });
  if (errors.length > 0) return { errors };
  return {
    message: {
      line,
      from: phone!,
      body: body ?? '',
      receivedAt: receivedAt!,
      to: text('to')?.trim() || null,
      messageId: text('message_id')?.trim() || null,
      provider,
    },
  };
}

/** Every line of the file, or an `invalid` error listing the first bad lines (details: `{ rows, invalid, errors }`). */
export function parseSmsFile(content: string, file: string, provider: string): SmsFileLine[] {
  const jsonl = /\.(jsonl|ndjson)$/i.test(file) || /^\s*\{/.test(content);
  const messages: SmsFileLine[] = [];
  const errors: LineError[] = [];
  let rows = 0;
  let invalidRows = 0;
  const take = (fields: Record<string, unknown>, line: number) => {
    rows++;
    const r = checkSmsFields(fields, line, provider);
    if ('message' in r) messages.push(r.message);
    else {
      invalidRows++;
      errors.push(...r.errors);
    }
  };
  if (jsonl) {
    content.split(/\r?\n/).forEach((text, i) => {
      if (text.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        rows++;
        invalidRows++;
        errors.push({ line: i + 1, column: '(line)', reason: 'is not a JSON object' });
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        rows++;
        invalidRows++;
        errors.push({ line: i + 1, column: '(line)', reason: 'is not a JSON object' });
        return;
      }
      take(value as Record<string, unknown>, i + 1);
    });
  } else {
    const parsed = Papa.parse<string[]>(content.replace(/^\uFEFF/, ''), { skipEmptyLines: false });
    const [header, ...records] = parsed.data;
    const names = (header ?? []).map((h) => h.trim().toLowerCase());
    const missing = REQUIRED.filter((c) => !names.includes(c));
    if (missing.length > 0) {
      throw new ConsentError('invalid', `${file}: the header line lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`, `The columns are ${SMS_FILE_COLUMNS.join(',')} (to and message_id optional).`);
    }
    // Papa gives no line numbers: count the physical lines each record spans.
    let line = 1 + (header ?? []).join(',').split('\n').length - 1;
    for (const cells of records) {
      const start = line + 1;
      line += Math.max(1, cells.join(',').split('\n').length);
      if (cells.length === 1 && cells[0]!.trim() === '') continue;
      const fields: Record<string, unknown> = {};
      names.forEach((n, i) => {
        if ((SMS_FILE_COLUMNS as readonly string[]).includes(n)) fields[n] = cells[i];
      });
      take(fields, start);
    }
  }
  if (errors.length > 0) {
    const shown = errors.slice(0, MAX_ERRORS);
    throw new ConsentError(
      'invalid',
      `${file}: ${invalidRows} of ${rows} line${rows === 1 ? '' : 's'} ${invalidRows === 1 ? 'is' : 'are'} invalid, so nothing was recorded:\n` +
        shown.map((e) => `  line ${e.line}, ${e.column}: ${e.reason}`).join('\n') +
        (errors.length > shown.length ? `\n  … and ${errors.length - shown.length} more` : ''),
      'Fix those lines and run it again (the whole file is recorded in one transaction).',
      { details: { rows, invalid: invalidRows, errors: shown } },
    );
  }
  return messages;
}
