// normalisePhone keeps an E.164 number as written when libphonenumber-js
// says it is possible as written; that answer is cached per first three
// digits and length (src/consent/phone.ts). These cases check, on a large
// varied sample, that the cached answers are the library's own.
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
  it('20,000 numbers of every prefix and length: kept as written exactly when possible as written, else the full parse decides', () => {
    const rnd = rng(12);
    const sample: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Any first digit but 0, 7 to 15 digits in all (E.164's range), the first three drawn from a small set half the time so that keys repeat.
      const len = 7 + Math.floor(rnd() * 9);
      let d = i % 2 === 0 ? ['1', '33', '44', '49', '7', '86', '998', '999', '262', '290', '800', '882'][Math.floor(rnd() * 12)]! : String(1 + Math.floor(rnd() * 9));
      while (d.length < len) d += String(Math.floor(rnd() * 10));
      sample.push('+' + d.slice(0, len));
    }
    const wrong: string[] = [];
    let kept = 0;
    let parsed = 0;
    let refused = 0;
    for (const raw of sample) {
      const r = normalisePhone(raw);
      if (possibleAsWritten(raw)) {
        if (!('phone' in r) || r.phone !== raw) wrong.push(raw);
        kept++;
      } else {
        const want = fullParse(raw);
        if (('phone' in r ? r.phone : null) !== want) wrong.push(raw);
        if (want === null) refused++;
        else parsed++;
      }
    }
    expect(wrong).toEqual([]);
    // The sample covers each branch.
    expect(kept).toBeGreaterThan(1_000);
    expect(refused).toBeGreaterThan(1_000);
    expect(kept + parsed + refused).toBe(sample.length);
  });
});
