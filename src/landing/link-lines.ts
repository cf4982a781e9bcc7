/**
 * The lines of `landing links`: one per profile, CSV (`id,email,url,oneClickUrl`)
 * or JSON lines, for a page of ids and emails at a time. Pure (no I/O), and
 * built from a plain, cloneable spec so that signing threads
 * (link-signer-pool.ts) and the main thread format the very same bytes.
 */
import { TOKEN_BYTES, TOKEN_CHARS, tokenBytesSigner, tokenSigner } from './tokens.js';
import { oneClickUrl, personalUrl } from './urls.js';

export type LinkFormat = 'csv' | 'jsonl';

/** All a formatter needs; structured-cloneable (it is a worker's workerData). */
export interface LinkLineSpec {
  /** The signing key (the keyring's current one). */
  key: { id: number; secret: Uint8Array };
  slug: string;
  /** A blocklist page: lines carry an RFC 8058 one-click URL too. */
  oneClick: boolean;
  baseUrl: string;
  /** Unix seconds; 0 = never. */
  expiresAt: number;
  format: LinkFormat;
}

/** The CSV header, or null for JSON lines. */
export function linkHeader(format: LinkFormat): string | null {
  return format === 'csv' ? 'id,email,url,oneClickUrl\n' : null;
}

/** RFC 4180 quoting, only when needed. Emails are kept byte for byte: this file feeds a mail merge. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * The tokens of `ids`, as bytes (TOKEN_BYTES each, in order): what signing
 * threads compute (link-signer-pool.ts), the formatter then taking them as given.
 */
export function linkTokenSigner(spec: Pick<LinkLineSpec, 'key' | 'slug' | 'expiresAt'>): (ids: ArrayLike<number>) => Uint8Array {
  const signInto = tokenBytesSigner(spec.key, spec.slug);
  return (ids) => {
    const out = new Uint8Array(ids.length * TOKEN_BYTES);
    for (let i = 0; i < ids.length; i++) signInto(ids[i]!, spec.expiresAt, out, i * TOKEN_BYTES);
    return out;
  };
}

/** A formatter: the lines of those profiles, in order, each ending with "\n", as a string or as UTF-8 bytes; `tokens` (linkTokenSigner's), when the tokens are signed elsewhere. */
export type LinkLineFormatter = (ids: ArrayLike<number>, emails: readonly string[], tokens?: Uint8Array) => string | Uint8Array;

/** The token of `ids[i]` as text: from `tokens` when given, else signed here. */
function tokenText(sign: (profileId: number, expiresAt?: number) => string, expiresAt: number) {
  return (ids: ArrayLike<number>, i: number, tokens: Uint8Array | undefined): string =>
    tokens ? Buffer.from(tokens.buffer, tokens.byteOffset + i * TOKEN_BYTES, TOKEN_BYTES).toString('base64url') : sign(ids[i]!, expiresAt);
}

export function linkLineFormatter(spec: LinkLineSpec): LinkLineFormatter {
  const { baseUrl, slug, expiresAt, oneClick } = spec;
  const tokenOf = tokenText(tokenSigner(spec.key, spec.slug), expiresAt);
  if (spec.format === 'jsonl') {
    return (ids, emails, tokens) => {
      let text = '';
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const token = tokenOf(ids, i, tokens);
        const url = personalUrl(baseUrl, slug, token);
        text += JSON.stringify({ id, email: emails[i]!, url, oneClickUrl: oneClick ? oneClickUrl(baseUrl, slug, token) : null }) + '\n';
      }
      return text;
    };
  }
  // The URLs differ only by their token (base64url, never quoted): when the
  // base URL needs no quoting, the URLs need none, and the constant parts are
  // made once. Otherwise each field is quoted as a whole, line by line.
  const sample = personalUrl(baseUrl, slug, '');
  if (NEEDS_QUOTES.test(sample) || NEEDS_QUOTES.test(oneClickUrl(baseUrl, slug, ''))) {
    return (ids, emails, tokens) => {
      let text = '';
      for (let i = 0; i < ids.length; i++) {
        const token = tokenOf(ids, i, tokens);
        text += `${ids[i]!},${csvField(emails[i]!)},${csvField(personalUrl(baseUrl, slug, token))},${oneClick ? csvField(oneClickUrl(baseUrl, slug, token)) : ''}\n`;
      }
      return text;
    };
  }
  return csvBytesFormatter(spec, ',' + sample, oneClick ? ',' + oneClickUrl(baseUrl, slug, '') : null);
}

const B64URL = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');

/**
 * The CSV lines as UTF-8 bytes, written straight into one buffer per page
 * (no string per token or line): `id,email` + `before` + token [+ `between`
 * + token] + "\n", where `before` and `between` are the URLs' constant parts
 * (they need no CSV quoting) and the token is base64url (unpadded) of its bytes.
 * An email needing quotes, or not ASCII, goes through csvField and UTF-8.
 */
function csvBytesFormatter(spec: LinkLineSpec, before: string, between: string | null): LinkLineFormatter {
  const signInto = tokenBytesSigner(spec.key, spec.slug);
  const { expiresAt } = spec;
  const beforeBytes = Buffer.from(before, 'utf8');
  const betweenBytes = between === null ? null : Buffer.from(between, 'utf8');
  const raw = new Uint8Array(TOKEN_BYTES);
  // Per line, besides the email: id (at most 16 digits), two commas, the URLs' parts, two tokens, "\n".
  const fixed = 16 + 2 + beforeBytes.length + (betweenBytes?.length ?? 1) + 2 * TOKEN_CHARS + 1;
  return (ids, emails, tokens) => {
    let capacity = 0;
    for (let i = 0; i < ids.length; i++) capacity += fixed + emails[i]!.length * 6 + 2;
    const out = Buffer.allocUnsafeSlow(capacity);
    let pos = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      let src: Uint8Array = raw;
      let at = 0;
      if (tokens) {
        src = tokens;
        at = i * TOKEN_BYTES;
      } else signInto(id, expiresAt, raw, 0);
      // The id's decimal digits.
      const digits = String(id);
      for (let j = 0; j < digits.length; j++) out[pos++] = digits.charCodeAt(j);
      out[pos++] = 0x2c;
      const email = emails[i]!;
      let plain = true;
      for (let j = 0; j < email.length; j++) {
        const c = email.charCodeAt(j);
        if (c >= 0x80 || c === 0x22 || c === 0x2c || c === 0x0a || c === 0x0d) {
          plain = false;
          break;
        }
        out[pos + j] = c;
      }
      pos += plain ? email.length : out.write(csvField(email), pos, 'utf8');
      out.set(beforeBytes, pos);
      pos += beforeBytes.length;
      const token = pos;
      pos = base64urlInto(src, at, out, pos);
      if (betweenBytes) {
        out.set(betweenBytes, pos);
        pos += betweenBytes.length;
        out.copyWithin(pos, token, token + TOKEN_CHARS);
        pos += TOKEN_CHARS;
      } else {
        out[pos++] = 0x2c;
      }
      out[pos++] = 0x0a;
    }
    return out.subarray(0, pos);
  };
}

/** Unpadded base64url of the TOKEN_BYTES bytes at `bytes[from]`, at `out[pos]`; returns the position after it. */
function base64urlInto(bytes: Uint8Array, from: number, out: Uint8Array, pos: number): number {
  const n = from + TOKEN_BYTES;
  let i = from;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[pos++] = B64URL[v >>> 18]!;
    out[pos++] = B64URL[(v >>> 12) & 63]!;
    out[pos++] = B64URL[(v >>> 6) & 63]!;
    out[pos++] = B64URL[v & 63]!;
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0);
    out[pos++] = B64URL[v >>> 18]!;
    out[pos++] = B64URL[(v >>> 12) & 63]!;
    if (i + 1 < n) out[pos++] = B64URL[(v >>> 6) & 63]!;
  }
  return pos;
}
