import { invalid } from '../../../consent/errors.js';
import { effectiveSmsSettings, type SmsSettingsValues } from '../../../consent/sms.js';
import type { CommandContext } from '../../context.js';

const TEXT_FLAGS = {
  organisation: '--organisation',
  helpText: '--help-text',
  confirmOptOutText: '--confirm-optout-text',
  confirmOptInText: '--confirm-optin-text',
} as const;

/** The flags given, checked: "" puts a setting back to its default. */
function changesOf(o: Record<string, unknown>): { [K in keyof SmsSettingsValues]?: string | null } {
  const changes: { [K in keyof SmsSettingsValues]?: string | null } = {};
  for (const [name, flag] of Object.entries(TEXT_FLAGS) as [keyof typeof TEXT_FLAGS, string][]) {
    const v = o[name];
    if (typeof v !== 'string') continue;
    const text = v.trim();
    if (text.length > 640) throw invalid(`${flag} is ${text.length} characters long; an SMS answer is kept under 640 (four SMS).`, 'Shorten it.');
    changes[name] = text === '' ? null : text;
  }
  if (typeof o.lang === 'string') changes.lang = o.lang;
  if (o.retentionDays !== undefined) {
    const s = String(o.retentionDays).trim();
    if (!/^\d{1,5}$/.test(s)) throw invalid(`--retention-days must be a whole number of days, not "${s}".`, 'e.g. --retention-days 30 (0: bodies are removed at the next message).');
    changes.retentionDays = String(Number(s));
  }
  return changes;
}

export async function settings(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const changes = changesOf(o);
  const store = await ctx.store();
  const values = Object.keys(changes).length > 0 ? await store.sms.saveSettings(changes) : await store.sms.settings();
  const s = effectiveSmsSettings(values);
  if (o.json) return ctx.json(s);
  const mark = (d: boolean) => (d ? ' (built-in)' : '');
  ctx.print(
    [
      `organisation: ${s.organisation ?? '(none)'}`,
      `language: ${s.lang}`,
      `help text${mark(s.defaults.helpText)}: ${s.helpText}`,
      `opt-out confirmation${mark(s.defaults.confirmOptOutText)}: ${s.confirmOptOutText}`,
      `opt-in confirmation${mark(s.defaults.confirmOptInText)}: ${s.confirmOptInText}`,
      `bodies kept: ${s.retentionDays} days`,
    ].join('\n'),
  );
}
