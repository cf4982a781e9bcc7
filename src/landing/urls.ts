import { invalid } from '../consent/errors.js';

/**
 * Where pages live, as served by `consent landing serve`:
 *   GET/POST <base>/<slug>                 the page, its form target
 *   GET      <base>/<slug>?t=<token>       a person's page
 *   POST     <base>/<slug>/one-click?t=…   RFC 8058 one-click unsubscribe
 * A slug never contains "/", so the paths cannot collide.
 */
export const ONE_CLICK_SEGMENT = 'one-click';
export const TOKEN_PARAM = 't';

/** `--base-url`, else CONSENT_BASE_URL, else '' (links and form targets relative to the server root). */
export function resolveBaseUrl(flag: unknown, env: Record<string, string | undefined>): string {
  const raw = typeof flag === 'string' ? flag : env.CONSENT_BASE_URL;
  if (raw === undefined || raw.trim() === '') return '';
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw invalid(`Invalid base URL "${raw}".`, 'Give an absolute http(s) URL, e.g. https://pages.example.com.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`Invalid base URL "${raw}": only http and https are served.`);
  if (url.search || url.hash || url.username || url.password) {
    throw invalid(`Invalid base URL "${raw}": no query, fragment or credentials.`);
  }
  return url.href.replace(/\/+$/, '');
}

export function pageUrl(base: string, slug: string): string {
  return `${base}/${slug}`;
}

export function personalUrl(base: string, slug: string, token: string): string {
  return `${base}/${slug}?${TOKEN_PARAM}=${token}`;
}

export function oneClickUrl(base: string, slug: string, token: string): string {
  return `${base}/${slug}/${ONE_CLICK_SEGMENT}?${TOKEN_PARAM}=${token}`;
}

/** The path of a one-click target, for the server's router. */
export function oneClickPath(slug: string): string {
  return `/${slug}/${ONE_CLICK_SEGMENT}`;
}
