/**
 * Twilio's webhook signature (X-Twilio-Signature), as Twilio documents it
 * (https://www.twilio.com/docs/usage/webhooks/webhooks-security): the full
 * URL Twilio called (scheme, host, path and query string, exactly as
 * configured in its console), followed by every POST parameter sorted by
 * name, each as its name then its value, no separators; a repeated
 * parameter contributes each of its distinct values, sorted; HMAC-SHA1 with
 * the account's auth token, base64. Twilio's own libraries accept the URL
 * with and without its default port (Twilio's signing is not consistent
 * about it), and so does this.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FormParams = Record<string, string | string[] | undefined>;

export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const v = params[name];
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? [...new Set(v)].sort() : [v]) data += name + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** The URL with its scheme's default port written out, and without any port: both are tried. */
function urlVariants(url: string): string[] {
  const u = new URL(url);
  const withoutPort = new URL(url);
  withoutPort.port = '';
  const variants = [url, withoutPort.toString()];
  if (u.port === '') {
    const port = u.protocol === 'https:' ? '443' : '80';
    variants.push(url.replace(/^(https?:\/\/[^/?#]+)/, `$1:${port}`));
  }
  return [...new Set(variants)];
}

/** Whether `header` is Twilio's signature of this request; compared in constant time. */
export function verifyTwilioSignature(authToken: string, header: string | string[] | undefined, url: string, params: FormParams): boolean {
  if (typeof header !== 'string' || header === '') return false;
  const given = Buffer.from(header);
  let ok = false;
  for (const variant of urlVariants(url)) {
    const expected = Buffer.from(twilioSignature(authToken, variant, params));
    // Every variant is compared (no early exit), each in constant time.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}
