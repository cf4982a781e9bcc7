// Kept apart from profile.ts: zod costs tens of milliseconds to load, and
// read commands such as `profile show` must not pay for it.
import { z } from 'zod';
import { invalid } from './errors.js';
import { normaliseEmail, normalisePhone, type NewProfile } from './profile.js';

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
  phone: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return null;
      const phone = normalisePhone(v);
      if (!phone) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v}" is not a phone number in international form (e.g. +33612345678)`,
        });
        return z.NEVER;
      }
      return phone;
    }),
  firstName: optionalName,
  lastName: optionalName,
});

/** Validates with zod and turns the first problem into an `invalid` error naming the field. */
export function parseNewProfile(input: unknown): NewProfile {
  // (the schema's output type is checked against NewProfile by this return)
  const result = NewProfileSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || 'input';
    throw invalid(`Invalid ${field}: ${issue.message}.`);
  }
  return result.data;
}

