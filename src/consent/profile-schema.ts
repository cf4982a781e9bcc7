// Kept apart from profile.ts: zod costs tens of milliseconds to load, and
// read commands such as `profile show` must not pay for it.
import { z } from 'zod';
import { invalid } from './errors.js';
import { normalisePhone } from './phone.js';
import { normaliseEmail, type NewProfile } from './profile.js';

const optionalName = z
  .string()
  .trim()
  .max(200, 'at most 200 characters')
  .optional()
  .transform((v) => (v ? v : null));

export const NewProfileSchema = z.object({
  email: z.string().transform((v, ctx) => {
    const email = normaliseEmail(v);
    if (!email) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a valid email address` });
      return z.NEVER;
    }
    return email;
  }),
  // Normalised by parseNewProfile, which knows the default country.
  phone: z.string().optional(),
  firstName: optionalName,
  lastName: optionalName,
});

export interface ProfileInputOptions {
  /** ISO 3166 alpha-2 (upper-case): the country of phone numbers written without a country code. */
  defaultCountry?: string | null;
}

/** Validates with zod and turns the first problem into an `invalid` error naming the field. */
export function parseNewProfile(input: unknown, options: ProfileInputOptions = {}): NewProfile {
  const result = NewProfileSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || 'input';
    throw invalid(`Invalid ${field}: ${issue.message}.`);
  }
  const { phone: raw, ...rest } = result.data;
  let phone: string | null = null;
  if (raw !== undefined && raw.trim() !== '') {
    const r = normalisePhone(raw, options.defaultCountry);
    if ('problem' in r) throw invalid(`Invalid phone: ${r.problem}.`);
    phone = r.phone;
  }
  return { ...rest, phone };
}

