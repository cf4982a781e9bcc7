/**
 * The lines of `landing links`: one per profile, CSV (`id,email,url,oneClickUrl`)
 * or JSON lines, for a page of ids and emails at a time. Pure (no I/O), and
 * built from a plain, cloneable spec so that signing threads
 * (link-signer-pool.ts) and the main thread format the very same bytes.
 */
import { tokenSigner } from './tokens.js';
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

/** `(ids, emails) => text`: the lines of those profiles, in order, each ending with "\n". */
export function linkLineFormatter(spec: LinkLineSpec): (ids: ArrayLike<number>, emails: readonly string[]) => string {
  const sign = tokenSigner(spec.key, spec.slug);
  const { baseUrl, slug, expiresAt, oneClick } = spec;
  if (spec.format === 'jsonl') {
    return (ids, emails) => {
      let text = '';
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const token = sign(id, expiresAt);
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
    return (ids, emails) => {
      let text = '';
      for (let i = 0; i < ids.length; i++) {
        const token = sign(ids[i]!, expiresAt);
        text += `${ids[i]!},${csvField(emails[i]!)},${csvField(personalUrl(baseUrl, slug, token))},${oneClick ? csvField(oneClickUrl(baseUrl, slug, token)) : ''}\n`;
      }
      return text;
    };
  }
  const before = ',' + sample;
  const between = oneClick ? ',' + oneClickUrl(baseUrl, slug, '') : null;
  return (ids, emails) => {
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      const email = emails[i]!;
      const token = sign(ids[i]!, expiresAt);
      text += ids[i]! + ',' + (NEEDS_QUOTES.test(email) ? csvField(email) : email) + before + token + (between === null ? ',\n' : between + token + '\n');
    }
    return text;
  };
}
