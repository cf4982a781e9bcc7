import { momentOf } from '../../../consent/audience.js';
import { invalid } from '../../../consent/errors.js';
import { endMoment, periodStart, replayEnds, reportData, seriesPoints, weeksBetween } from '../../../consent/stats.js';
import { csvLine, guardCell } from '../../../imports/columns.js';
import type { CommandContext } from '../../context.js';
import { writeOutputFile } from '../../output-file.js';
import { loadOverview } from './stats.js';

export async function report(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const format = String(o.format);
  const out = typeof o.out === 'string' ? o.out : undefined;
  if (format === 'html' && !out) throw invalid('The HTML report is a file: give --out, e.g. --out report.html.', 'Or print the series as CSV with --format csv.');
  if (o.json && !out) throw invalid('--json describes the file written: give --out too (without it the CSV itself goes to stdout).');
  const at = ctx.nowIso();
  const since = periodStart(String(o.since), ctx.deps.now());
  const store = await ctx.store();
  const { view, counts, services, changes } = await loadOverview(store, at, since);
  const ends = replayEnds(weeksBetween(since, at), at);
  const data = reportData({
    at,
    since,
    counts,
    services,
    changes,
    replay: await store.asOf.reachableOverTime(await Promise.all(ends.map((e) => momentOf(store, endMoment(e), at)))),
    ends,
    reasons: await store.stats.reasons(since, at),
    delays: await store.stats.delays(since, at),
  });
  let text: string;
  if (format === 'csv') {
    text = csvLine(['series', 'period', 'key', 'value']) + seriesPoints(data).map((p) => csvLine([p.series, p.period, guardCell(p.key), String(p.value)])).join('');
  } else {
    const [{ renderReport }, { chartLibrary }] = await Promise.all([import('../../../report/render.js'), import('../../../report/chart-library.js')]);
    text = renderReport(data, view, o.lang as 'en' | 'fr', chartLibrary());
  }
  if (!out) return void ctx.deps.stdout.write(text);
  await writeOutputFile(ctx, out, (file) => file.write(text));
  if (o.json) return ctx.json({ out, format, bytes: Buffer.byteLength(text), since, until: at });
  ctx.notice(`Wrote the ${format === 'csv' ? 'CSV series' : 'report'} to ${out} (${Buffer.byteLength(text).toLocaleString('en-US')} bytes).`);
}
