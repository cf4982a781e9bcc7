import escapeHtml from 'escape-html';

/**
 * HTML that is already safe to emit as is. Only `html` templates and
 * `trustedHtml` make one, so operator text and profile data can only reach a
 * page through escaping.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

/**
 * The one escaping of outside text. escape-html escapes & < > " and ', so a
 * value is inert both in text and inside a double-quoted attribute (every
 * attribute in our templates is).
 */
export function escapeText(v: string): string {
  return escapeHtml(v);
}

function emit(v: Interpolation): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return (v as readonly Interpolation[]).map(emit).join('');
  return escapeText(String(v));
}

/** A tagged template whose interpolations are escaped unless they are SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += emit(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks a constant string of our own (CSS, a script) as HTML. Never pass outside data. */
export function trustedHtml(value: string): SafeHtml {
  return new SafeHtml(value);
}
