/**
 * Issue 16: the html report opened in Debian's chromium, from the file alone
 * (file://, nothing else to load): no console message of type error, no page
 * error, no request but the document itself, and every chart drawn (its
 * canvas has pixels that are not transparent). A screenshot is saved in the
 * test's folder (docs/report.png is a copy of one, kept small). The report is
 * the same text on both stores (its data is checked on both in
 * stats-report.test.ts), so this renders the SQLite one.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useChromium } from './helpers/browser.js';
import { tempDir } from './helpers/run-cli.js';
import { seedReason, statsFixture } from './helpers/stats-fixture.js';

const CHARTS = ['chart-optouts-channel', 'chart-optouts-source', 'chart-reachable', 'chart-services', 'chart-reasons', 'chart-delay'];

describe('the html report in chromium', () => {
  const browser = useChromium();

  it('opens with no error and no request, and draws every chart', { timeout: 120_000 }, async () => {
    const { f, at } = await statsFixture('sqlite');
    await seedReason(f.db, 'c4@x.io', 'too-many', '2026-06-01T10:00:05.000Z');
    await seedReason(f.db, 'bob@example.com', 'never-signed-up', '2026-06-10T12:00:01.000Z');
    const dir = tempDir();
    const file = join(dir, 'report.html');
    await at('report', '--out', file);

    const page = await browser().newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url);
    expect(await page.getAttribute('html', 'data-charts-drawn')).toBe(String(CHARTS.length));
    for (const id of CHARTS) {
      // Run in the page (as text: the tests are type-checked without the DOM's types).
      const painted = (await page.evaluate(`(() => {
        const canvas = document.getElementById(${JSON.stringify(id)});
        if (!canvas || canvas.width === 0 || canvas.height === 0) return -1;
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let opaque = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) opaque++;
        return opaque;
      })()`)) as number;
      expect(painted, id).toBeGreaterThan(1000);
      // Drawn with data, not only axes and a legend: the chart's datasets hold values above zero (the fixture has some for every chart).
      const plotted = (await page.evaluate(`(() => {
        const chart = Chart.getChart(document.getElementById(${JSON.stringify(id)}));
        if (!chart) return -1;
        let n = 0;
        for (const d of chart.data.datasets) for (const v of d.data) if ((typeof v === 'number' ? v : v && v.y) > 0) n++;
        return n;
      })()`)) as number;
      expect(plotted, `${id}: points above zero`).toBeGreaterThan(0);
    }
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot) && statSync(shot).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
    await page.close();
  });
});
