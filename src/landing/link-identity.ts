/**
 * The way back from a link we signed: whose is it? A complaint report
 * (feedback ingest) carries the original mail's List-Unsubscribe URLs; the
 * one that verifies names the person, whatever the report redacted.
 */
import { SERVICE_PARAM, unsubscribeNamespace } from './services.js';
import { Keyring, verifyToken } from './tokens.js';
import { ONE_CLICK_SEGMENT, TOKEN_PARAM } from './urls.js';

/**
 * The profile id a link of ours names, or null: a page link
 * (`<base>/<slug>?t=…`), a blocklist page's one-click link
 * (`<base>/<slug>/one-click?t=…`) or a service's
 * (`<base>/<slug>/one-click?s=<service>&t=…`), whatever the base. Only the
 * signature counts: a link signed with any key of the store names its
 * profile even if it has expired since or its key was retired (a complaint
 * arrives weeks after the mail); a forged, altered or foreign link names
 * nobody. Never throws.
 */
export function profileIdOfLink(keyring: Keyring, link: string): number | null {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return null;
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const oneClick = segments.at(-1) === ONE_CLICK_SEGMENT;
  const slug = oneClick ? segments.at(-2) : segments.at(-1);
  const token = url.searchParams.get(TOKEN_PARAM);
  if (!slug || !token) return null;
  const service = oneClick ? url.searchParams.get(SERVICE_PARAM) : null;
  const check = verifyToken(everyKeyValid(keyring), token, service ? unsubscribeNamespace(service) : slug, 0);
  return check.ok ? check.profileId : null;
}

/** The same keys, none retired; checked at time 0, nothing has expired. */
const unretired = new WeakMap<Keyring, Keyring>();
function everyKeyValid(keyring: Keyring): Keyring {
  let k = unretired.get(keyring);
  if (!k) unretired.set(keyring, (k = new Keyring(keyring.keys.map((key) => ({ ...key, retired: false })))));
  return k;
}
