/**
 * Bytes to text for the CSV parser, streaming (no whole-file buffer), never
 * replacing anything: bytes that are not valid in the encoding are an error
 * naming the line. UTF-8 by default; a UTF-16 BOM (Excel's "Unicode text")
 * switches to UTF-16; `--encoding` names another one.
 *
 * UTF-8 is checked with node:buffer's native isUtf8 a run of whole lines at a
 * time (so the bad line can be named), UTF-16 with TextDecoder (fatal,
 * streaming). Windows-1252 goes through iconv-lite: Node 20's TextDecoder
 * decodes 'windows-1252' as ISO-8859-1 (0x80 comes out as U+0080, not €).
 * latin1 is ISO-8859-1 proper (every byte is its code point).
 */
import iconv from 'iconv-lite';
import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { invalid } from '../consent/errors.js';

export const ENCODINGS = ['utf-8', 'windows-1252', 'latin1', 'utf-16le'] as const;
export type Encoding = (typeof ENCODINGS)[number] | 'utf-16be';

export function parseEncoding(raw: string): Encoding {
  const e = raw.trim().toLowerCase().replace(/^utf8$/, 'utf-8').replace(/^cp1252$/, 'windows-1252').replace(/^iso-8859-1$/, 'latin1');
  if (!(ENCODINGS as readonly string[]).includes(e)) {
    throw invalid(`--encoding "${raw}" is not supported.`, `Use one of: ${ENCODINGS.join(', ')}.`);
  }
  return e as Encoding;
}

const NL = 0x0a;

function countNewlines(b: Uint8Array, from = 0, to = b.length): number {
  let n = 0;
  let at = b.indexOf(NL, from);
  while (at !== -1 && at < to) {
    n++;
    at = b.indexOf(NL, at + 1);
  }
  return n;
}

/**
 * A Transform from bytes to strings. `encoding` null: UTF-8 unless the file
 * starts with a UTF-16 BOM. A leading BOM (UTF-8 or UTF-16) is not passed
 * on: the CSV reader must see the first cell as the file wrote it (a quoted
 * `"email"` after a BOM would otherwise keep its quotes).
 */
export class DecodeStream extends Transform {
  private encoding: Encoding | null;
  private decoder: TextDecoder | null = null;
  /** UTF-8: the bytes after the last newline, decoded with the next chunk (a character never spans a newline byte). */
  private carry: Buffer | null = null;
  private lines = 0;
  private started = false;
  private textStarted = false;

  constructor(encoding: Encoding | null, private readonly file: string) {
    super({ readableObjectMode: true });
    this.encoding = encoding;
  }

  /** The encoding in use (given, or detected from the first bytes); utf-8 before any byte. */
  get encodingUsed(): Encoding {
    return this.encoding ?? 'utf-8';
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      if (!this.started) {
        this.started = true;
        if (this.encoding === null || this.encoding === 'utf-16le') {
          if (chunk[0] === 0xff && chunk[1] === 0xfe) this.encoding = 'utf-16le';
          else if (chunk[0] === 0xfe && chunk[1] === 0xff && this.encoding === null) this.encoding = 'utf-16be';
        }
        this.encoding ??= 'utf-8';
        if (this.encoding === 'utf-16le' || this.encoding === 'utf-16be') this.decoder = new TextDecoder(this.encoding, { fatal: true, ignoreBOM: true });
      }
      const text = this.decoder ? this.decodeOther(chunk, false) : this.encoding === 'utf-8' ? this.decodeUtf8(chunk, false) : this.decodeSingleByte(chunk);
      if (text) this.pushText(text);
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  /** Pushes decoded text, the file's leading BOM (U+FEFF) taken off its first character. */
  private pushText(text: string): void {
    if (!this.textStarted) {
      this.textStarted = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (!text) return;
    }
    this.push(text);
  }

  override _flush(done: TransformCallback): void {
    try {
      const text = this.decoder ? this.decodeOther(new Uint8Array(0), true) : this.encoding === 'utf-8' || this.encoding === null ? this.decodeUtf8(Buffer.alloc(0), true) : '';
      if (text) this.pushText(text);
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  private decodeUtf8(chunk: Buffer, last: boolean): string {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const cut = last ? buf.length : buf.lastIndexOf(NL) + 1;
    this.carry = last ? null : buf.subarray(cut);
    if (cut === 0) return '';
    const part = buf.subarray(0, cut);
    if (!isUtf8(part)) {
      // Find the line: the first newline-delimited piece that is not UTF-8.
      let start = 0;
      let line = this.lines + 1;
      while (start < part.length) {
        let end = part.indexOf(NL, start);
        if (end === -1) end = part.length;
        if (!isUtf8(part.subarray(start, end))) break;
        line++;
        start = end + 1;
      }
      throw this.badBytes(line, 'UTF-8');
    }
    this.lines += countNewlines(part);
    return part.toString('utf8');
  }

  /** One byte, one character: chunks decode on their own. Windows-1252 leaves five bytes undefined: an error. */
  private decodeSingleByte(chunk: Buffer): string {
    const text = this.encoding === 'latin1' ? chunk.toString('latin1') : iconv.decode(chunk, 'windows-1252');
    const bad = this.encoding === 'latin1' ? -1 : text.indexOf('\uFFFD');
    if (bad !== -1) {
      let line = this.lines + 1;
      for (let at = text.indexOf('\n'); at !== -1 && at < bad; at = text.indexOf('\n', at + 1)) line++;
      throw this.badBytes(line, 'WINDOWS-1252');
    }
    this.lines += countNewlines(chunk);
    return text;
  }

  private decodeOther(chunk: Uint8Array, last: boolean): string {
    let text: string;
    try {
      text = this.decoder!.decode(chunk, { stream: !last });
    } catch {
      throw this.badBytes(this.lines + 1, this.encoding!.toUpperCase());
    }
    let at = text.indexOf('\n');
    while (at !== -1) {
      this.lines++;
      at = text.indexOf('\n', at + 1);
    }
    return text;
  }

  private badBytes(line: number, encoding: string) {
    return invalid(
      `${this.file}, line ${line}: bytes that are not valid ${encoding}; nothing was imported.`,
      encoding === 'UTF-8'
        ? 'If the file comes from Excel or Windows, pass --encoding windows-1252 (or latin1, utf-16le).'
        : 'Check the file, or pass the right --encoding (utf-8, windows-1252, latin1, utf-16le).',
    );
  }
}

/** The delimiter of a header line: the most frequent of `,` `;` tab outside quotes; `,` if none. */
export function detectDelimiter(header: string): string {
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch in counts) counts[ch]!++;
  }
  let best = ',';
  for (const d of [';', '\t']) if (counts[d]! > counts[best]!) best = d;
  return best;
}

/**
 * Text to bytes in `encoding`, for files written back for a re-import with
 * the same flags (--rejects). A UTF-16 file gets its BOM back (that is how it
 * is recognised). Characters the encoding lacks (only in our own messages)
 * become `?`.
 */
export function encodeText(text: string, encoding: Encoding, first: boolean): Buffer {
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  if (encoding === 'utf-16le') return Buffer.from((first ? '\uFEFF' : '') + text, 'utf16le');
  if (encoding === 'utf-16be') return Buffer.from((first ? '\uFEFF' : '') + text, 'utf16le').swap16();
  if (encoding === 'latin1') return Buffer.from(text.replace(/[^\u0000-\u00ff]/gu, '?'), 'latin1');
  return iconv.encode(text, 'windows-1252');
}
