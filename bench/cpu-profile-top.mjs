#!/usr/bin/env node
// The top self-time functions of a `node --cpu-prof` profile, for the
// profiles quoted in the README's benchmark section:
//   node --cpu-prof --cpu-prof-dir=prof bin/consent.js … ; node bench/cpu-profile-top.mjs prof/*.cpuprofile [--top 15]
// One table per file (the main thread and each worker thread write their own).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } });
for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = nodes.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}${f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  for (const [key, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${((100 * t) / total).toFixed(1).padStart(6)} % ${(t / 1e6).toFixed(2).padStart(7)} s  ${key}`);
  }
}
