/**
 * `consent report`: one self-contained HTML file (pure: report data → text).
 * The chart library and the drawing script are inlined and allowed by their
 * SHA-256 in a Content-Security-Policy meta tag that allows nothing else (no
 * network, no other script, no eval); the data travels as JSON in a
 * <script type="application/json"> with every `<` escaped, so no value can
 * close the element. Text is escaped by construction (src/landing/html.ts).
 */
import { createHash } from 'node:crypto';
import { CONTACT_CHANNELS } from '../consent/channels.js';
import type { Overview, ReportData } from '../consent/stats.js';
import { html, trustedHtml, type SafeHtml } from '../landing/html.js';
import { REPORT_STRINGS, type ReportLang } from './strings.js';

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** JSON safe inside a script element: `<` (so `</script` and `<!--`), `>`, `&` and the JS line separators escaped. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** "0 s", "2.5 s", "3 min", "5 h", "2.1 days". */
export function duration(seconds: number, lang: ReportLang): string {
  const s = Math.max(0, seconds);
  const fr = lang === 'fr';
  const num = (n: number) => (Math.round(n * 10) / 10).toLocaleString(fr ? 'fr-FR' : 'en-US');
  if (s < 60) return `${num(s)} s`;
  if (s < 3600) return `${num(s / 60)} min`;
  if (s < 86_400) return `${num(s / 3600)} h`;
  return `${num(s / 86_400)} ${fr ? 'jours' : 'days'}`;
}

const CSS = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; background: #fff; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 0 0 .25rem; }
p { margin: .25rem 0 .75rem; }
.muted { color: #505a66; font-size: .92rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(30rem, 1fr)); gap: 1.25rem; }
section { border: 1px solid #d7dde3; border-radius: .5rem; padding: 1rem; }
.chart { position: relative; height: 17rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .75rem; text-align: right; border-bottom: 1px solid #e3e7eb; }
th:first-child, td:first-child { text-align: left; }
.rules { background: #f3f6f9; border-left: .25rem solid #1f5fa8; padding: .5rem .75rem; }
`;

/** Draws every chart from the embedded data (runs in the browser; Chart.js is its global `Chart`). */
const DRAW = `(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var L = data.labels;
  var palette = ['#1f5fa8', '#d9480f', '#2b8a3e', '#7048e8', '#c2255c', '#0b7285', '#e67700'];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  var drawn = 0;
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, config);
    drawn++;
  }
  function sets(keys, table, names) {
    return keys.map(function (k, i) { return { label: names[k], data: table[k], backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length] }; });
  }
  function stacked() {
    return { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { position: 'bottom' } } };
  }
  var weeks = data.weeks;
  draw('chart-optouts-channel', { type: 'bar', data: { labels: weeks, datasets: sets(data.channels, data.optOutsByChannel, L.channels) }, options: stacked() });
  draw('chart-optouts-source', { type: 'bar', data: { labels: weeks, datasets: sets(data.kinds, data.optOutsBySource, L.kinds) }, options: stacked() });
  var reach = sets(data.contactChannels, data.reachableOverTime.byChannel, L.channels).map(function (s) { s.fill = false; s.tension = 0.2; return s; });
  draw('chart-reachable', { type: 'line', data: { labels: data.reachableOverTime.labels, datasets: reach },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { position: 'bottom' } } } });
  if (data.services.length > 0) {
    draw('chart-services', { type: 'bar', data: { labels: data.services.map(function (s) { return s.name; }), datasets: [
      { label: L.subscribed, data: data.services.map(function (s) { return s.subscribed; }), backgroundColor: palette[0] },
      { label: L.pending, data: data.services.map(function (s) { return s.pending; }), backgroundColor: palette[6] }
    ] }, options: stacked() });
  }
  if (data.reasons.length > 0) {
    draw('chart-reasons', { type: 'doughnut', data: { labels: data.reasons.map(function (r) { return L.reasonCodes[r.code] || r.code; }),
      datasets: [{ data: data.reasons.map(function (r) { return r.count; }), backgroundColor: palette }] }, options: { plugins: { legend: { position: 'right' } } } });
  }
  draw('chart-delay', { type: 'bar', data: { labels: data.delays.buckets.map(function (b) { return L.buckets[b]; }),
    datasets: [{ label: L.delay, data: data.delays.counts, backgroundColor: palette[2] }] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } } });
  document.documentElement.setAttribute('data-charts-drawn', String(drawn));
})();
`;

function chart(id: string, label: string): SafeHtml {
  return html`<div class="chart"><canvas id="${id}" role="img" aria-label="${label}">${label}</canvas></div>`;
}

/** A chart's box: its title, what it shows, the chart (or a sentence when there is nothing to draw). */
function section(title: string, note: string, body: SafeHtml): SafeHtml {
  return html`<section>
<h2>${title}</h2>
<p class="muted">${note}</p>
${body}
</section>`;
}

/** The report as one HTML document. `overview` gives today's table; `data` every chart. */
export function renderReport(data: ReportData, now: Overview, lang: ReportLang, chartLibrary: string): string {
  const t = REPORT_STRINGS[lang];
  const n = (x: number) => x.toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-US');
  const day = (iso: string) => iso.slice(0, 10);
  // The replay's ends are exclusive midnights: a week's state is shown at its last day.
  const endLabels = data.reachableOverTime.ends.map((e) => day(new Date(Date.parse(`${e}T00:00:00Z`) - 86_400_000).toISOString()));
  const embedded = {
    ...data,
    reachableOverTime: { ...data.reachableOverTime, labels: endLabels },
    labels: {
      channels: t.channels,
      kinds: t.kinds,
      buckets: t.buckets,
      reasonCodes: t.reasonCodes,
      subscribed: t.subscribed,
      pending: t.pending,
      delay: t.delay,
    },
  };
  const dataJson = scriptJson(embedded);
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(chartLibrary)} ${sha256(DRAW)}`,
    `style-src ${sha256(CSS)}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const rows = CONTACT_CHANNELS.map((c) => {
    const k = now.channels[c];
    return html`<tr><td>${t.channels[c]}</td><td>${n(k.reachable)}</td><td>${n(k.optedOut)}</td><td>${k.suppressed === null ? t.none : n(k.suppressed)}</td><td>${n(k.erased)}</td></tr>`;
  });
  const delayText = data.delays.total > 0 ? t.delayNote(n(data.delays.total), duration(data.delays.maxSeconds, lang)) : t.noDelay;
  const doc = html`<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>${t.title}</title>
<style>${trustedHtml(CSS)}</style>
</head>
<body>
<main>
<h1>${t.title}</h1>
<p>${t.period(day(data.since), day(data.at))}</p>
<p class="muted">${t.generated(data.at)}</p>
<section>
<h2>${t.summary}</h2>
<p>${t.profiles(n(now.profiles))}</p>
<table>
<thead><tr><th scope="col">${t.channel}</th><th scope="col">${t.reachable}</th><th scope="col">${t.optedOut}</th><th scope="col">${t.suppressed}</th><th scope="col">${t.erased}</th></tr></thead>
<tbody>${rows}</tbody>
</table>
</section>
<div class="grid">
${section(t.optOutsByChannel, t.optOutsByChannelNote, chart('chart-optouts-channel', t.optOutsByChannel))}
${section(t.optOutsBySource, t.optOutsBySourceNote, chart('chart-optouts-source', t.optOutsBySource))}
${section(t.reachableOverTime, t.reachableOverTimeNote, chart('chart-reachable', t.reachableOverTime))}
${section(t.subscriptions, t.subscriptionsNote, data.services.length > 0 ? chart('chart-services', t.subscriptions) : html`<p>${t.noServices}</p>`)}
${section(t.reasons, t.reasonsNote, data.reasons.length > 0 ? chart('chart-reasons', t.reasons) : html`<p>${t.noReasons}</p>`)}
<section>
<h2>${t.delay}</h2>
<p>${delayText}</p>
<p class="rules">${t.delayRules}</p>
${chart('chart-delay', t.delay)}
</section>
</div>
</main>
<script type="application/json" id="report-data">${trustedHtml(dataJson)}</script>
<script>${trustedHtml(chartLibrary)}</script>
<script>${trustedHtml(DRAW)}</script>
</body>
</html>
`;
  return doc.value;
}
