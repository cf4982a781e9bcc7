// The realistic customer export the benches load (issue 12), written by
// bench:import and bench:serve alike so that both measure the same kind of file:
// - about a quarter of the people opted out of each channel: 6.2 % have `all`
//   ("no longer contact by any channel") and each of the six channels is set
//   for 20 % more, so that 6.2 % + 93.8 % × 20 % ≈ 25 % may not be contacted on
//   any one channel, and a first load writes ≈ 1.26 ledger events per row
//   (0.062 + 6 × 0.20); the generator counts the cells it sets and returns the
//   exact figure;
// - names as real exports have them: accents, commas and quotes
//   (`"Smith, Jr."`, `"J. ""Jack"""`), RFC 4180-quoted;
// - 15 % empty phones, the others mostly E.164, some written `+33 6 12 …` or `0044…`;
// - emails in random order (a shuffled permutation), so neither store nor
//   index is filled in key order;
// - flags not set are `0` or, in one cell out of six, empty.
// Deterministic (a seeded LCG): every run writes the same bytes.
import { createWriteStream, renameSync, statSync } from 'node:fs';

export const CHANNELS = ['all', 'email', 'sms', 'phone', 'postal', 'fax', 'push'];
export const HEADER = `email,phone,first_name,last_name,${CHANNELS.map((c) => `optout_${c}`).join(',')}`;
const P_ALL = 0.062;
const P_CHANNEL = 0.2;

const FIRST = ['Anne', 'José', 'Zoë', 'Mohammed', 'Li', 'Ólafur', 'Chloé', 'Jean-Luc', 'Marie', 'Søren', 'Ana', 'Björn', 'Élodie', 'Kwame', 'Yuki', 'Pierre'];
const LAST = ['Martin', 'Müller', "O'Brien", 'García', 'Nguyễn', 'Dubois', 'Kowalski', 'Rossi', 'Smith', 'Öztürk', 'Lefèvre', 'Andersen', 'da Silva', 'Ivanova'];
const DOMAINS = ['example.com', 'mail.example.org', 'example.fr', 'post.example.de', 'example.co.uk', 'example.net'];

/** A small deterministic PRNG (LCG), so every run writes the same files. */
export function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

function shuffled(n, rnd) {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/** The fields of person `k` (a pure function of k, so the update file can change a few of them). */
function person(k) {
  const f = FIRST[k % FIRST.length];
  const l = LAST[(k >>> 4) % LAST.length];
  let first = f;
  let last = l;
  if (k % 20 === 7) last = `"${l}, Jr."`; // a comma inside quotes
  else if (k % 25 === 3) first = `"${f[0]}. ""${f}"""`; // J. "Jack"
  else if (k % 50 === 11) first = ''; // no first name
  const email = `${f.toLowerCase().replace(/[^a-z]/g, '')}.${l.toLowerCase().replace(/[^a-z]/g, '')}.${k}@${DOMAINS[k % DOMAINS.length]}`;
  const h = Math.imul(k ^ 0x9e3779b9, 2654435761) >>> 0;
  let phone = '';
  if (h % 100 >= 15) {
    const digits = String(600000000 + (h % 100000000));
    phone = h % 10 === 1 ? `+33 ${digits[0]} ${digits.slice(1, 3)} ${digits.slice(3, 5)} ${digits.slice(5, 7)} ${digits.slice(7)}` : h % 10 === 2 ? `0044${7000000000 + (h % 999999999)}` : `+33${digits}`;
  }
  return { email, phone, first, last };
}

/**
 * Writes `n` people (0…n-1) in random order to `path` (the caller writes it
 * once per run and reuses it for every repetition). With `update`, the file a
 * later import brings: the same people in another order, 10 % of them changed
 * (half a new last name, half one more opt-out set), 2 % others with a new
 * mobile number, and 5 % new people (n…1.05n).
 * Returns { rows, optOutsSet, eventsPerRow }: the opt-out cells set to 1, which
 * is the ledger events a first load must write.
 */
export async function writeRealisticCsv(path, n, { update = false } = {}) {
  const total = update ? n + Math.round(n * 0.05) : n;
  const order = shuffled(total, rng(update ? 4242 : 42));
  const w = createWriteStream(path + '.partial');
  let buf = HEADER + '\n';
  let set = 0;
  for (let i = 0; i < total; i++) {
    const k = order[i];
    const p = person(k);
    // The flags are drawn from the person's own seed, so the update file sees the same ones.
    const r = rng(k * 7 + 1);
    const flags = CHANNELS.map((c) => {
      const x = r();
      return x < (c === 'all' ? P_ALL : P_CHANNEL) ? '1' : r() < 1 / 6 ? '' : '0';
    });
    // 2 % of the people have a new mobile number (they moved, or changed operator): `profile import` records it (`address`).
    if (update && k < n && k % 50 === 19) p.phone = `+33${700000000 + (k % 100000000)}`;
    if (update && k < n && k % 10 === 5) {
      const c = [1, 2, 3, 4, 5, 6].map((j) => 1 + ((k + j) % 6)).find((j) => flags[j] !== '1');
      if (k % 20 === 5 || c === undefined) p.last = `Renamed${k % 501}`;
      else flags[c] = '1';
    }
    for (const f of flags) if (f === '1') set++;
    buf += `${p.email},${p.phone},${p.first},${p.last},${flags.join(',')}\n`;
    if (buf.length > 1 << 16) {
      if (!w.write(buf)) await new Promise((res) => w.once('drain', res));
      buf = '';
    }
  }
  w.end(buf);
  await new Promise((res) => w.once('finish', res));
  renameSync(path + '.partial', path);
  return { rows: total, optOutsSet: set, eventsPerRow: set / total, bytes: statSync(path).size };
}
