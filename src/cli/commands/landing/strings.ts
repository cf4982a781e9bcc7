import { basename, resolve } from 'node:path';
import { invalid } from '../../../consent/errors.js';
import { availableLangs, loadStrings, noStrings } from '../../../landing/look.js';
import { LANG_RE, SHIPPED_STRINGS, validateStrings } from '../../../landing/strings.js';
import type { CommandContext } from '../../context.js';
import { writeOutputFile } from '../../output-file.js';

function parseLang(raw: unknown, what: string): string {
  const lang = String(raw);
  if (!LANG_RE.test(lang)) throw invalid(`Invalid ${what} "${lang}": a language tag such as fr, de or pt-BR.`);
  return lang;
}

export async function exportStrings(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const lang = parseLang(o.lang ?? 'en', '--lang');
  const store = await ctx.store();
  const strings = await loadStrings(store, lang);
  if (!strings) throw await noStrings(store, lang);
  const text = JSON.stringify(strings, null, 2) + '\n';
  if (typeof o.out === 'string') {
    await writeOutputFile(ctx, o.out, (out) => out.write(text));
    ctx.notice(`Wrote ${resolve(ctx.deps.cwd, o.out)}.`);
  } else ctx.deps.stdout.write(text);
}

export async function importStrings(ctx: CommandContext, file: string, o: Record<string, unknown>): Promise<void> {
  const fromName = basename(file).replace(/\.json$/i, '');
  if (o.lang === undefined && (file === '-' || !LANG_RE.test(fromName))) {
    throw invalid(`Which language is ${file}? Its name is not a language tag.`, 'Pass --lang, e.g. --lang pt-BR.');
  }
  const lang = parseLang(o.lang ?? fromName, o.lang === undefined ? 'file name' : '--lang');
  const text = await ctx.readInput(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(`${file} is not valid JSON: ${(e as Error).message}.`);
  }
  // Complete, known keys, the same placeholders as the reference: checked before the store is touched.
  const strings = validateStrings(json, file);
  const store = await ctx.store();
  await store.pageStrings.put(lang, JSON.stringify(strings), ctx.nowIso(), ctx.actor());
  const overrides = lang in SHIPPED_STRINGS;
  if (o.json) return ctx.json({ lang, keys: Object.keys(strings).length, overridesShipped: overrides });
  ctx.notice(
    `Imported the strings of "${lang}"${overrides ? ' (replacing the shipped ones)' : ' (a new language)'}. Pages in "${lang}" use them from now on (the server re-reads them within a second).`,
  );
}

export async function listStrings(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const imported = new Set(await store.pageStrings.langs());
  const rows = (await availableLangs(store)).map((lang) => ({ lang, shipped: lang in SHIPPED_STRINGS, imported: imported.has(lang) }));
  if (o.json) return ctx.json(rows);
  await ctx.table(['lang', 'shipped', 'imported'], rows.map((r) => [r.lang, r.shipped ? 'yes' : 'no', r.imported ? 'yes' : 'no']));
}
