// normalisePhone keeps an E.164 number as written when libphonenumber-js
// says it is possible as written and its national part does not begin with
// a national prefix; the first answer is cached per first three digits and
// length (src/consent/phone.ts). These cases check, on a large varied
// sample, that a number kept as written is the library's own full parse,
// and that every other number gets the full parse's answer.
import { PhoneNumber, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { describe, expect, it } from 'vitest';
import { normalisePhone } from '../src/consent/phone.js';

/** A deterministic PRNG (LCG). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** The library's answers, asked afresh for each number. */
function possibleAsWritten(raw: string): boolean {
  try {
    return new PhoneNumber(raw as `+${string}`).isPossible();
  } catch {
    return false; // no calling code in its first digits
  }
}
function fullParse(raw: string): string | null {
  const p = parsePhoneNumberFromString(raw);
  return p && p.isPossible() ? p.number : null;
}

describe('E.164 phone numbers: the cached answer is the library\'s', () => {
  it('20,000 numbers of every prefix and length: kept as written only when the full parse gives them back, else the full parse decides', () => {
    const rnd = rng(12);
    const sample: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Any first digit but 0, 7 to 15 digits in all (E.164's range), the first three drawn from a small set half the time so that keys repeat.
      const len = 7 + Math.floor(rnd() * 9);
      let d = i % 2 === 0 ? ['1', '33', '44', '49', '7', '86', '998', '999', '262', '290', '800', '882', '375', '54'][Math.floor(rnd() * 14)]! : String(1 + Math.floor(rnd() * 9));
      while (d.length < len) d += String(Math.floor(rnd() * 10));
      sample.push('+' + d.slice(0, len));
    }
    const wrong: string[] = [];
    let kept = 0;
    let parsed = 0;
    let refused = 0;
    let lenient = 0;
    for (const raw of sample) {
      const r = normalisePhone(raw);
      const got = 'phone' in r ? r.phone : null;
      const want = fullParse(raw);
      if (got === raw && want === null && possibleAsWritten(raw)) {
        // A calling code several territories share: possible for the code, which is the rule (phone.ts).
        lenient++;
        continue;
      }
      if (got !== want) wrong.push(`${raw}: ${got} instead of ${want}`);
      if (got === raw) kept++;
      else if (want === null) refused++;
      else parsed++;
    }
    expect(wrong).toEqual([]);
    // The sample covers each branch: kept, refused, and rewritten by the full parse (a national prefix after the calling code).
    expect(kept).toBeGreaterThan(1_000);
    expect(refused).toBeGreaterThan(1_000);
    expect(parsed).toBeGreaterThan(100);
    expect(lenient).toBeLessThan(sample.length / 100);
  });

  it('a trunk 0 written after the calling code is dropped, whether or not the length is possible with it', () => {
    for (const [raw, want] of [
      ['+49043567066', '+4943567066'],
      ['0049043567066', '+4943567066'],
      ['+330612345678', '+33612345678'],
      ['+33612345678', '+33612345678'],
      ['+390612345678', '+390612345678'], // Italy keeps its leading 0
      ['+49 0435 67066', '+4943567066'],
      ['+33 06 12 34 56 78', '+33612345678'],
      ['0044 7700-900.123', '+447700900123'],
    ] as const) {
      expect(normalisePhone(raw), raw).toEqual({ phone: want });
    }
  });
});
