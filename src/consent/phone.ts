/**
 * Phone numbers, read with libphonenumber-js (Google's metadata), stored as
 * E.164. Kept apart from profile.ts: the metadata costs tens of milliseconds
 * to load, and only commands that read a phone number pay for it.
 *
 * The rule is the library's `isPossible()` (the lengths a number may have in
 * its country), not `isValid()` (the ranges allocated today): a new range
 * would otherwise be refused until the metadata is updated, and `isValid()`
 * costs five times as much per row (a million-row import pays for it). The
 * `min` metadata therefore: it holds the possible lengths `isPossible()`
 * reads, the same as `max`, in less to load.
 */
import { Metadata, PhoneNumber, parsePhoneNumberFromString, isSupportedCountry, validatePhoneNumberLength, type CountryCode } from 'libphonenumber-js/min';
import { invalid } from './errors.js';

export type PhoneResult = { phone: string } | { problem: string };

/** An ISO 3166 alpha-2 code libphonenumber knows (`FR`, `de`…), upper-cased; an `invalid` error otherwise. */
export function parseCountry(raw: string, flag = '--default-country'): string {
  const c = raw.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(c) || !isSupportedCountry(c)) {
    throw invalid(`${flag} "${raw}" is not a country code with a phone numbering plan.`, 'Give a two-letter ISO 3166 code, e.g. FR, DE, GB, US.');
  }
  return c;
}

const LENGTH_PROBLEM: Record<string, string> = {
  TOO_SHORT: 'too short',
  TOO_LONG: 'too long',
  INVALID_LENGTH: 'not a possible length',
  NOT_A_NUMBER: 'not a phone number',
  INVALID_COUNTRY: 'no such country code',
};

/**
 * The E.164 form of `raw`, or the reason it is refused. `00` is read as `+`
 * (the international prefix of most of the world). A national number (no
 * `+`/`00`) needs `defaultCountry`; a number that is not possible for its
 * country is refused: storing it would give a wrong number to every gateway.
 */
const E164_RE = /^\+[1-9]\d{6,14}$/;

/**
 * Whether an E.164 number is kept exactly as written: possible as written
 * (`new PhoneNumber(raw).isPossible()`, which reads the calling code from
 * the first one to three digits and then checks only the length of the rest
 * against that code's possible lengths), and its national part does not
 * begin with what the full parse would take for a national prefix (the
 * calling code's `national_prefix_for_parsing`: `+49 0431…`, the trunk 0
 * written after the calling code, is `+49431…` to the full parse, and to
 * every gateway). The first answer is a function of the first three digits
 * and the length, and is kept per such pair (at most 900 × 9 of them, with
 * the calling code's national-prefix pattern): a million-row import asks the
 * library a few hundred times instead of 700,000 (about 1.5 µs each), and
 * tests one pattern per row. A calling code the metadata lacks makes
 * PhoneNumber throw: not possible as written, and the full parse says why.
 */
const asWritten = new Map<string, { codeLength: number; nationalPrefix: RegExp | null } | null>();
const metadata = new Metadata();
function keptAsWritten(raw: string): boolean {
  const key = raw.slice(0, 4) + raw.length;
  let w = asWritten.get(key);
  if (w === undefined) {
    try {
      const p = new PhoneNumber(raw as `+${string}`);
      if (p.isPossible()) {
        metadata.selectNumberingPlan(p.countryCallingCode as CountryCode);
        // Not in the library's typings (METADATA.md documents it): without it, every such number takes the full parse.
        const plan = metadata.numberingPlan as unknown as { nationalPrefixForParsing?: () => string | undefined } | undefined;
        if (typeof plan?.nationalPrefixForParsing !== 'function') w = null;
        else {
          const prefix = plan.nationalPrefixForParsing();
          w = { codeLength: p.countryCallingCode.length, nationalPrefix: prefix ? new RegExp(`^(?:${prefix})`) : null };
        }
      } else w = null;
    } catch {
      w = null;
    }
    asWritten.set(key, w);
  }
  return w !== null && !(w.nationalPrefix !== null && w.nationalPrefix.test(raw.slice(1 + w.codeLength)));
}

export function normalisePhone(raw: string, defaultCountry?: string | null): PhoneResult {
  // The usual case in bulk imports, without the full parse's text handling:
  // a number already in E.164 that is possible exactly as written, without a national prefix, is kept.
  // (Anything else, `+330612345678` and `+49043567066` included, takes the full parse.)
  if (E164_RE.test(raw) && keptAsWritten(raw)) return { phone: raw };
  let s = raw.trim();
  if (s.startsWith('00')) s = '+' + s.slice(2);
  const international = s.startsWith('+');
  if (!international && !defaultCountry) {
    return { problem: `"${raw}" is a national number without a country: pass --default-country (e.g. FR) or write it as +<country code>...` };
  }
  const country = (international ? undefined : defaultCountry) as CountryCode | undefined;
  const where = international ? '' : ` for ${country}`;
  const p = parsePhoneNumberFromString(s, country);
  if (!p) {
    const why = validatePhoneNumberLength(s, country);
    return { problem: `"${raw}" is not a possible number${where}${why ? ` (${LENGTH_PROBLEM[why] ?? why})` : ''}` };
  }
  if (!p.isPossible()) {
    const why = validatePhoneNumberLength(s, country);
    return { problem: `"${raw}" is not a possible number${where || ` for +${p.countryCallingCode}`}${why ? ` (${LENGTH_PROBLEM[why] ?? why})` : ''}` };
  }
  return { phone: p.number };
}
