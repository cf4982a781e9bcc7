import {
  CHANNELS,
  CONTACT_CHANNELS,
  type Channel,
  type ContactChannel,
  type OptOutFlags,
  type Reachability,
} from './channels.js';
import { invalid } from './errors.js';
import type { Bases, GrantFlags } from './policy.js';

export interface Profile {
  id: number;
  email: string;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  optOut: OptOutFlags;
  createdAt: string;
  updatedAt: string;
  /**
   * When its personal data was erased (`profile erase`), else null. An erased
   * profile keeps its id, flags, subscriptions and ledger events; its email is
   * then the placeholder `erased-<id>@invalid` (see erasedEmail), its phone and
   * names null, and it is unreachable on every channel.
   */
  erasedAt: string | null;
  /**
   * Per contact channel, whether its last optin/optout event on the channel
   * itself is an `optin` (a grant: see policy.ts). The stores always set it;
   * absent (a profile built by hand) means no grant.
   */
  granted?: GrantFlags;
}

/** The email an erased profile keeps (the column is NOT NULL UNIQUE): no personal data, and `.invalid` can never be delivered (RFC 2606). */
export function erasedEmail(id: number): string {
  return `erased-${id}@invalid`;
}

export interface NewProfile {
  email: string;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
}

/** A profile as the command line names it: its id or its email. */
export type ProfileRef = { id: number } | { email: string };

// Deliberately plain: one @, no spaces, a dot in the domain. Stricter checks
// reject real addresses; the sending system is the final judge.
const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]{2,}$/;

/**
 * The common case, already lower-case ASCII, with dot-separated atoms and no
 * space: such an address passes every check below unchanged (trim and
 * toLowerCase leave it as is, EMAIL_RE matches, no dot starts, ends or doubles),
 * so only the length rules remain. EMAIL_RE's backtracking over its negated
 * classes cost an import about 1 µs per row; this test a third of that.
 */
const PLAIN_EMAIL_RE = /^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z0-9-]{2,}$/;

/** Lower-cased, trimmed, validated; `null` when it is not an email address. */
export function normaliseEmail(raw: string): string | null {
  if (raw.length <= 254 && PLAIN_EMAIL_RE.test(raw) && raw.indexOf('@') <= 64) return raw;
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL_RE.test(email)) return null;
  const local = email.slice(0, email.lastIndexOf('@'));
  if (local.length > 64 || local.startsWith('.') || local.endsWith('.') || email.includes('..')) return null;
  return email;
}

/**
 * Whether a profile ref names a phone rather than an id or an email: it starts
 * with `+` or `00`, or, when `national` (a default country is set), it is a national number
 * starting with 0 (digits and the usual separators). Ids never start with 0.
 */
export function looksLikePhone(ref: string, national: boolean): boolean {
  const s = ref.trim();
  if (/^(\+|00)[\d\s().\-/]+$/.test(s)) return true;
  return national && /^0[\d\s().\-/]+$/.test(s);
}

export function parseRef(raw: string): ProfileRef {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return { id: Number(s) };
  const email = normaliseEmail(s);
  if (!email) {
    throw invalid(`"${raw}" is neither a profile id nor an email address.`, 'Give the profile id (a number) or its email.');
  }
  return { email };
}

export function refLabel(ref: ProfileRef): string {
  return 'id' in ref ? `id ${ref.id}` : ref.email;
}

/**
 * The flags that stop a profile being contacted on `channel`: `all` (which
 * wins over every channel) and/or the channel's own flag, in that order.
 * Empty when no flag blocks it (a suppression of its address may still: see
 * isReachable).
 *
 * With isReachable, THE definition of "reachable on a channel";
 * `reachability`, `ProfileFilter.reachable`/`unreachable` and every store's
 * filter predicate follow it (the one SQL form is `reachableSql` in
 * src/store/shared/reachability-sql.ts, tested against these functions). A
 * later rule is added here and to that predicate, and so changes both filters at once.
 */
export function blockedBy(optOut: OptOutFlags, channel: ContactChannel): Channel[] {
  const flags: Channel[] = [];
  if (optOut.all) flags.push('all');
  if (optOut[channel]) flags.push(channel);
  return flags;
}

/**
 * The suppression entries in force for a profile's addresses (what
 * `SuppressionRepository.blocking` returns): only their channel matters here.
 */
export type SuppressionsInForce = readonly { channel: string }[];

/** The entry among `suppressions` that blocks `channel`, if any (the store matched it by address: email for email, phone for sms and phone). */
export function suppressionOn<T extends { channel: string }>(suppressions: readonly T[], channel: ContactChannel): T | undefined {
  return suppressions.find((s) => s.channel === channel);
}

/**
 * The consent basis in force and the profile's grants (policy.ts), for the
 * basis rule of reachability. Absent: every channel under `opt-out` (the rule
 * as it always was).
 */
export interface BasisContext {
  bases: Bases;
  granted: GrantFlags | undefined;
}

/**
 * May this profile be contacted on `channel`? No flag blocks it (see
 * `blockedBy`) AND its address for the channel has no suppression entry in
 * force (`suppressions`: the entries in force for its email and phone) AND,
 * when the channel's basis is `opt-in`, it holds a grant there (policy.ts).
 */
export function isReachable(optOut: OptOutFlags, channel: ContactChannel, suppressions: SuppressionsInForce = [], basis?: BasisContext): boolean {
  return (
    blockedBy(optOut, channel).length === 0 &&
    suppressionOn(suppressions, channel) === undefined &&
    (basis === undefined || basis.bases[channel] !== 'opt-in' || basis.granted?.[channel] === true)
  );
}

/**
 * `--opted-out <channel>`: opted out of `all` itself for `all`; for a contact
 * channel, opted out of it OR of `all` (an opt-out of `all` is one of every
 * channel). Unlike `unreachable`, only the flags count, never later rules.
 */
export function isOptedOut(optOut: OptOutFlags, channel: Channel): boolean {
  return channel === 'all' ? optOut.all : optOut.all || optOut[channel];
}

/** Per contact channel, whether the profile may be contacted there; an erased profile (`erasedAt` set) nowhere. */
export function reachability(
  optOut: OptOutFlags,
  suppressions: SuppressionsInForce = [],
  erasedAt: string | null = null,
  basis?: BasisContext,
): Reachability {
  const r = {} as Reachability;
  for (const c of CONTACT_CHANNELS) r[c] = erasedAt === null && isReachable(optOut, c, suppressions, basis);
  return r;
}

export interface ConsentChange {
  channel: Channel;
  action: 'optout' | 'optin';
}

/**
 * The changes that take a profile from its current flags to the wanted ones.
 * Channels whose wanted value equals the current one produce nothing: a change
 * that changes nothing records nothing.
 */
export function planChanges(current: OptOutFlags, wanted: Partial<OptOutFlags>): ConsentChange[] {
  const changes: ConsentChange[] = [];
  for (const channel of CHANNELS) {
    const want = wanted[channel];
    if (want === undefined || want === current[channel]) continue;
    changes.push({ channel, action: want ? 'optout' : 'optin' });
  }
  return changes;
}

/**
 * The grant-only `optin` events of a request (see ConsentRequest.grant): a
 * channel granted whose flag is clear, that no planned change touches, under
 * an `opt-in` basis, and not yet granted. Such an event changes no flag; it
 * makes the channel granted.
 */
export function planGrants(
  profile: Pick<Profile, 'optOut' | 'granted'>,
  changes: readonly ConsentChange[],
  grant: readonly ContactChannel[] | undefined,
  bases: Bases,
): ConsentChange[] {
  if (!grant || grant.length === 0) return [];
  const out: ConsentChange[] = [];
  for (const c of CONTACT_CHANNELS) {
    if (!grant.includes(c) || bases[c] !== 'opt-in' || profile.optOut[c] || profile.granted?.[c]) continue;
    if (changes.some((x) => x.channel === c)) continue;
    out.push({ channel: c, action: 'optin' });
  }
  return out;
}

export function applyChanges(current: OptOutFlags, changes: readonly ConsentChange[]): OptOutFlags {
  const next = { ...current };
  for (const c of changes) next[c.channel] = c.action === 'optout';
  return next;
}
