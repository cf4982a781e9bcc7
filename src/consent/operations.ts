/**
 * The operator's use cases, written against the ConsentStore interface only.
 */
import { CHANNELS, CONTACT_CHANNELS, type Channel, type ContactChannel, type OptOutFlags } from './channels.js';
import { consentState, noGrants, optOutEverywhere, type Basis, type Bases, basesOf, type ConsentState } from './policy.js';
import { conflict, invalid, notFound } from './errors.js';
import type { ChangeContext, LedgerEvent } from './ledger.js';
import { blockedBy, reachability, refLabel, suppressionOn, type Profile, type ProfileRef } from './profile.js';
import type { Suppression } from './suppressions.js';
import { mayReceive, type Service, type Subscription, type SubscriptionResult } from './services.js';
import type { ConsentResult, ConsentStore, LastChanges, ProfileFilter } from './store.js';

export async function requireProfile(store: ConsentStore, ref: ProfileRef): Promise<Profile> {
  const profile = await store.findProfile(ref);
  if (!profile) {
    throw notFound(`No profile ${refLabel(ref)}.`, 'Check the id or email with `consent profile list`.');
  }
  return profile;
}

/**
 * The one profile with this phone (E.164). None: not found; several: a
 * conflict listing them, since acting on one of them at random would be wrong.
 */
export async function requireProfileByPhone(store: ConsentStore, phone: string): Promise<Profile> {
  const found = await store.findProfilesByPhone(phone);
  if (found.length === 0) throw notFound(`No profile has the phone ${phone}.`, 'Check it with `consent profile list`.');
  if (found.length > 1) {
    throw conflict(
      `${found.length} profiles have the phone ${phone}: ${found.map((p) => `${p.id} (${p.email})`).join(', ')}.`,
      'Name one by its id or email.',
    );
  }
  return found[0]!;
}

/** A suppression entry as a profile's view shows it: which channel it blocks, and why. */
export interface SuppressionView {
  channel: Suppression['channel'];
  /** The suppressed address (the profile's email or phone). */
  address: string | null;
  reason: string;
  origin: string;
  since: string;
  expiresAt: string | null;
  note: string | null;
}

export const suppressionView = (s: Suppression): SuppressionView => ({
  channel: s.channel,
  address: s.address,
  reason: s.reason,
  origin: s.origin,
  since: s.createdAt,
  expiresAt: s.expiresAt,
  note: s.note,
});

export interface ProfileView extends Profile {
  /** Its personal data erased (`profile erase`): `erasedAt` says when. */
  erased: boolean;
  reachable: ReturnType<typeof reachability>;
  lastChanged: Partial<Record<Channel, { action: string; source: string; actor: string; occurredAt: string }>>;
  subscriptions: Subscription[];
  /** The suppression entries in force for its email and phone, one per channel blocked (email, then phone, then sms). */
  suppressions: SuppressionView[];
  /** Per contact channel: granted / refused / unknown, the channel's basis, and the event that decided the state. */
  consent: Record<ContactChannel, ChannelConsentView>;
}

/** One channel's consent as `profile show` gives it (see policy.ts for the three states). */
export interface ChannelConsentView {
  state: ConsentState;
  basis: Basis;
  /** The deciding event: for `refused` the opt-out (of the channel, else of `all`), for `granted` the optin; null for `unknown`. */
  eventId: number | null;
  action: string | null;
  source: string | null;
  actor: string | null;
  reason: string | null;
  occurredAt: string | null;
}

/**
 * The consent view of every contact channel, from the profile's last
 * optin/optout event of each channel (lastConsentEventsOf): the deciding
 * event is that of the channel itself, or of `all` when only `all` refuses.
 */
export function consentView(profile: Profile, bases: Bases, lastConsent: LastChanges): Record<ContactChannel, ChannelConsentView> {
  const lastOn = (c: Channel) => lastConsent[c] ?? null;
  const out = {} as Record<ContactChannel, ChannelConsentView>;
  for (const c of CONTACT_CHANNELS) {
    const state = consentState(profile.optOut, profile.granted, c);
    const e = state === 'unknown' ? null : state === 'refused' && !profile.optOut[c] ? lastOn('all') : lastOn(c);
    out[c] = {
      state,
      basis: bases[c],
      eventId: e?.id ?? null,
      action: e?.action ?? null,
      source: e?.source ?? null,
      actor: e?.actor ?? null,
      reason: e?.reason ?? null,
      occurredAt: e?.occurredAt ?? null,
    };
  }
  return out;
}

/** The stable JSON shape of a profile (`profile show --json`, `profile list --json`). */
export function profileView(
  profile: Profile,
  last: LastChanges,
  subscriptions: Subscription[] = [],
  suppressions: readonly Suppression[] = [],
  bases: Bases = optOutEverywhere(),
  lastConsent: LastChanges = {},
): ProfileView {
  const lastChanged: ProfileView['lastChanged'] = {};
  for (const c of CHANNELS) {
    const e = last[c];
    if (e) lastChanged[c] = { action: e.action, source: e.source, actor: e.actor, occurredAt: e.occurredAt };
  }
  return {
    id: profile.id,
    email: profile.email,
    phone: profile.phone,
    firstName: profile.firstName,
    lastName: profile.lastName,
    optOut: { ...profile.optOut },
    granted: { ...noGrants(), ...profile.granted },
    reachable: reachability(profile.optOut, suppressions, profile.erasedAt, { bases, granted: profile.granted }),
    consent: consentView(profile, bases, lastConsent),
    lastChanged,
    subscriptions,
    suppressions: suppressions.map(suppressionView),
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
    erased: profile.erasedAt !== null,
    erasedAt: profile.erasedAt,
  };
}

export async function describeProfile(store: ConsentStore, profile: Profile): Promise<ProfileView> {
  return profileView(
    profile,
    await store.lastChanges(profile.id),
    await store.services.subscriptionsOf(profile.id),
    await store.suppressions.blocking(profile.email, profile.phone),
    basesOf(await store.policy.current()),
    (await store.lastConsentEventsOf([profile.id])).get(profile.id),
  );
}

/** describeProfile of a page of profiles, in three reads of the store whatever their number (`profile list --json`). */
export async function describeProfiles(store: ConsentStore, profiles: readonly Profile[]): Promise<ProfileView[]> {
  const ids = profiles.map((p) => p.id);
  const last = await store.lastChangesOf(ids);
  const subscriptions = await store.services.subscriptionsOfMany(ids);
  const blocking = await store.suppressions.blockingMany(profiles);
  const bases = basesOf(await store.policy.current());
  const consent = await store.lastConsentEventsOf(ids);
  return profiles.map((p, i) => profileView(p, last.get(p.id) ?? {}, subscriptions.get(p.id) ?? [], blocking[i]!, bases, consent.get(p.id)));
}

/** The flags wanted when opting channels out or in: only the named ones. */
export function wantedFlags(channels: readonly Channel[], optOut: boolean): Partial<OptOutFlags> {
  const wanted: Partial<OptOutFlags> = {};
  for (const c of channels) wanted[c] = optOut;
  return wanted;
}

export async function setConsent(
  store: ConsentStore,
  profile: Profile,
  wanted: Partial<OptOutFlags>,
  context: ChangeContext,
  grant?: readonly ContactChannel[],
): Promise<ConsentResult> {
  const [result] = await store.applyConsent([{ profileId: profile.id, wanted, ...(grant && grant.length > 0 ? { grant } : {}) }], context);
  return result!;
}

export interface BlocklistPlan {
  toChange: Profile[];
  alreadyBlocked: Profile[];
  unknown: string[];
}

/** Resolves refs for `blocklist-all`; duplicates are folded. */
export async function planBlocklist(
  store: ConsentStore,
  refs: readonly { raw: string; ref: ProfileRef }[],
): Promise<BlocklistPlan> {
  const plan: BlocklistPlan = { toChange: [], alreadyBlocked: [], unknown: [] };
  const seen = new Set<number>();
  for (const { raw, ref } of refs) {
    const p = await store.findProfile(ref);
    if (!p) {
      plan.unknown.push(raw);
      continue;
    }
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    (p.optOut.all ? plan.alreadyBlocked : plan.toChange).push(p);
  }
  return plan;
}

export async function applyBlocklist(store: ConsentStore, profiles: readonly Profile[], context: ChangeContext) {
  return store.applyConsent(
    profiles.map((p) => ({ profileId: p.id, wanted: { all: true } })),
    context,
  );
}

export function describeEvent(e: LedgerEvent) {
  return {
    id: e.id,
    channel: e.channel,
    service: e.service,
    action: e.action,
    source: e.source,
    actor: e.actor,
    reason: e.reason,
    evidence: e.evidence,
    occurredAt: e.occurredAt,
  };
}

/**
 * A filter that can match no one is refused rather than run: an empty
 * suppression list looks like "nobody to leave out".
 */
export function checkProfileFilter(filter: ProfileFilter): ProfileFilter {
  if (filter.reachable && filter.reachable === filter.unreachable) {
    throw invalid(
      `--reachable ${filter.reachable} and --unreachable ${filter.unreachable} together match no one: they are each other's complement.`,
      'Give one of them (or two different channels).',
    );
  }
  return filter;
}

export async function requireService(store: ConsentStore, name: string) {
  const service = await store.services.get(name);
  if (!service) throw notFound(`No service ${name}.`, 'See `consent service list`, or create it with `consent service create`.');
  return service;
}

/**
 * An operator's subscribe or unsubscribe. Subscribing a double-opt-in
 * service stays pending unless the operator states the proof (`confirmed`
 * with a reason), which is then kept as the event's evidence.
 */
export async function operatorSubscription(
  store: ConsentStore,
  profile: Profile,
  service: Service,
  verb: 'subscribe' | 'unsubscribe',
  options: { confirmed: boolean },
  context: ChangeContext,
): Promise<OperatorSubscriptionResult> {
  if (options.confirmed && !context.reason) {
    throw invalid("--confirmed needs --reason: the operator's statement is the proof of consent.", 'e.g. --reason "signed paper form, 2026-11-02"');
  }
  const intent = verb === 'unsubscribe' ? 'unsubscribe' : options.confirmed ? 'subscribe' : 'request';
  const evidence = options.confirmed ? { proof: 'operator-statement', statement: context.reason } : context.evidence;
  const [result] = await store.services.change([{ profileId: profile.id, service: service.name, intent }], { ...context, evidence });
  const suppressions = await store.suppressions.blocking(profile.email, profile.phone);
  const suppressed = suppressionOn(suppressions, service.channel);
  return {
    ...result!,
    receiving: mayReceive(profile.optOut, service, result!.after, suppressions, {
      bases: basesOf(await store.policy.current()),
      granted: profile.granted,
    }),
    blockedBy: blockedBy(profile.optOut, service.channel),
    suppressedBy: suppressed ? suppressionView(suppressed) : null,
  };
}

export interface OperatorSubscriptionResult extends SubscriptionResult {
  /** May the person receive the service's messages now: subscribed and reachable on its channel. */
  receiving: boolean;
  /**
   * The opt-outs that stop the service reaching them, whatever the
   * subscription (`all` and/or the service's channel; empty when none). The
   * subscription is recorded all the same: it is the person's wish for the
   * service, and applies once the opt-out is cleared.
   */
  blockedBy: Channel[];
  /** The suppression entry of its address that stops the service reaching them, or null. */
  suppressedBy: SuppressionView | null;
}
