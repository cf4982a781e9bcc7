import { invalid } from '../../../consent/errors.js';
import { gatherReport, type ReportLang } from '../../../consent/report.js';
import type { CommandContext } from '../../context.js';
import { writeOutputFile } from '../../output-file.js';
import { findByRef } from './show.js';

export async function run(ctx: CommandContext, ref: string, o: Record<string, unknown>): Promise<void> {
  const format = (o.format as string | undefined) ?? 'json';
  if (format !== 'json' && format !== 'html') throw invalid(`--format must be json or html, not "${format}".`);
  if (o.json && format !== 'json') throw invalid('--json and --format html contradict each other: give one.');
  const lang = o.lang as string | undefined;
  if (lang !== undefined && lang !== 'en' && lang !== 'fr') throw invalid(`--lang must be en or fr, not "${lang}".`);
  const store = await ctx.store();
  const profile = await findByRef(ctx, store, ref, o);
  const brand = await store.brand.latest();
  const report = await gatherReport(store, profile, (slug, version) => store.pages.version(slug, version), {
    generatedAt: ctx.nowIso(),
    lang: lang as ReportLang | undefined,
    controller: brand && { piiController: brand.name, contact: brand.contact, address: brand.address, privacyUrl: brand.privacyUrl },
  });
  const text = format === 'json' ? JSON.stringify(report, null, 2) + '\n' : (await import('../../../landing/report-page.js')).renderReportPage(report);
  if (typeof o.out !== 'string') return void ctx.deps.stdout.write(text);
  await writeOutputFile(ctx, o.out, (f) => f.write(text));
  ctx.notice(
    `Wrote the ${format.toUpperCase()} report of profile ${profile.id}${profile.erasedAt ? ' (erased)' : ''} to ${o.out}: ${report.events.length} events, ledger block ${report.ledgerDigest?.blockId ?? 0}. It holds personal data: hand it to the person only.`,
  );
}
