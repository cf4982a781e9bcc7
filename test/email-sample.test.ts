// normaliseEmail's fast path (already lower-case ASCII addresses, see
// src/consent/profile.ts) must answer as the full rules do. A leading space
// always takes the full path (trimmed away there), which gives the reference.
import { describe, expect, it } from 'vitest';
import { normaliseEmail } from '../src/consent/profile.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

describe('normaliseEmail: the fast path answers as the full rules', () => {
  it('50,000 varied strings (dots, doubled dots, long local parts, capitals, odd characters) get the same answer both ways', () => {
    const rnd = rng(7);
    const ALPHABET = 'abcz09._+-@.AZ "é,';
    const pick = (n: number) => {
      let s = '';
      for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * (rnd() < 0.85 ? 7 : ALPHABET.length))];
      return s;
    };
    const wrong: string[] = [];
    let valid = 0;
    for (let i = 0; i < 50_000; i++) {
      const local = pick(1 + Math.floor(rnd() * (i % 10 === 0 ? 80 : 12)));
      const domain = pick(1 + Math.floor(rnd() * 8)) + (rnd() < 0.8 ? '.' + pick(2 + Math.floor(rnd() * 3)) : '');
      const raw = rnd() < 0.02 ? pick(260) : `${local}@${domain}`;
      const fast = normaliseEmail(raw);
      if (fast !== normaliseEmail(` ${raw}`)) wrong.push(raw);
      if (fast !== null) valid++;
    }
    expect(wrong).toEqual([]);
    expect(valid).toBeGreaterThan(5_000);
  });
});
