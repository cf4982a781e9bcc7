/**
 * Where a webhook may post (SSRF): `https://` anywhere public, plain
 * `http://` only to 127.0.0.1 or localhost (else --allow-http), and an
 * address that is not public unicast (private, loopback, link-local, ULA,
 * CGNAT, multicast, reserved…) only with --allow-private, except loopback
 * for a URL that names 127.0.0.1 or localhost itself. Checked when the
 * webhook is added and again at every delivery, on the addresses the name
 * resolves to then; the request connects to the address checked (a name
 * that resolves elsewhere a moment later, DNS rebinding, changes nothing).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { invalid } from '../consent/errors.js';

export interface TargetRules {
  allowHttp: boolean;
  allowPrivate: boolean;
}

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** The URL names the loopback interface itself: the one plain-http target allowed. */
export function namesLoopback(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === 'localhost';
}

/** The host as an address, if the URL gives one (`[::1]` → `::1`). */
function literal(url: URL): string | null {
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(h) ? h : null;
}

/** Parses and checks the URL's form (scheme, credentials); `invalid` (exit 2) saying why. */
export function checkUrl(raw: string, rules: TargetRules): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`"${raw}" is not a URL.`, 'Give the receiver\'s full URL, e.g. https://hooks.example.com/consent.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`A webhook URL must be https:// (not ${url.protocol}).`);
  if (url.username || url.password) {
    throw invalid('A webhook URL must not hold a user name or password.', 'Receivers verify the Consent-Signature header instead.');
  }
  if (url.protocol === 'http:' && !namesLoopback(url) && !rules.allowHttp) {
    throw invalid(
      `Plain http is refused for ${url.host}: deliveries would travel unencrypted.`,
      'Use https://, or --allow-http if you really mean it (http is accepted without it only for 127.0.0.1 and localhost).',
    );
  }
  return url;
}

/** Why this address may not be posted to (null: it may). */
export function addressProblem(address: string, url: URL, rules: TargetRules): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address);
  } catch {
    return `${address} is not an IP address`;
  }
  const range = ip.range();
  if (range === 'unicast') return null;
  if (range === 'loopback' && namesLoopback(url)) return null;
  if (rules.allowPrivate) return null;
  return `${url.hostname} resolves to ${address}, a ${range} address`;
}

/**
 * The address to connect to: every address the host resolves to is checked
 * (one bad one refuses it), the first is used. `invalid` when refused or not
 * resolved.
 */
export async function resolveTarget(url: URL, rules: TargetRules, lookup: Lookup = systemLookup): Promise<{ address: string; family: number }> {
  const given = literal(url);
  let addresses: { address: string; family: number }[];
  if (given) addresses = [{ address: given, family: isIP(given) }];
  else {
    try {
      addresses = await lookup(url.hostname);
    } catch (e) {
      throw invalid(`Cannot resolve ${url.hostname} (${(e as NodeJS.ErrnoException).code ?? 'no answer'}).`, 'Check the host name of the URL.');
    }
    if (addresses.length === 0) throw invalid(`${url.hostname} resolves to no address.`);
  }
  for (const a of addresses) {
    const problem = addressProblem(a.address, url, rules);
    if (problem) throw invalid(`Refused: ${problem}.`, 'A target on a private network needs --allow-private (server-side request forgery guard).');
  }
  return addresses[0]!;
}
