import { parseCountry } from '../../../consent/phone.js';
import type { CommandContext } from '../../context.js';

/** `--default-country`, else `$CONSENT_DEFAULT_COUNTRY`, else none; validated (exit 2 naming the flag or variable). */
export function defaultCountry(ctx: CommandContext, o: Record<string, unknown>): string | null {
  if (typeof o.defaultCountry === 'string') return parseCountry(o.defaultCountry, '--default-country');
  const env = ctx.env.CONSENT_DEFAULT_COUNTRY;
  if (env && env.trim() !== '') return parseCountry(env, 'CONSENT_DEFAULT_COUNTRY');
  return null;
}
