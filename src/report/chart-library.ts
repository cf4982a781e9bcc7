/**
 * The chart library inlined into the report: Chart.js 4 (its UMD build,
 * `dist/chart.umd.min.js`, 210 KB minified, 71 KB gzipped). Measured with
 * `npm pack` against the alternatives the issue names: uPlot 1.6 51 KB (22 KB
 * gz) but lines only (no bars, no doughnut without hand-written plugins);
 * Vega-Lite 6 needs Vega (258 + 521 + 60 KB with vega-embed, and a CSP
 * without 'unsafe-eval' needs its separate interpreter); ECharts 6 1.1 MB.
 * Chart.js draws every chart here (stacked bars, lines, doughnut) on a canvas,
 * evaluates no code from strings (works under a CSP without 'unsafe-eval') and
 * is actively maintained.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** The library's script text, without its source-map comment (the file must ask for nothing). */
export function chartLibrary(): string {
  if (cached === undefined) {
    // The package exports no path to its UMD file: it sits beside the main entry (dist/chart.cjs).
    const path = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
    cached = readFileSync(path, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  }
  return cached;
}
