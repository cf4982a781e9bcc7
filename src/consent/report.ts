/**
 * What a person may ask for (GDPR art. 15): everything the store holds about
 * them, as one document (`consent profile report`). The JSON shape follows
 * the Kantara Initiative Consent Receipt (v1.1) where its fields fit:
 *   version, jurisdiction, consentTimestamp, collectionMethod,
 *   consentReceiptID, language, piiPrincipalId, piiControllers, policyUrl,
 *   services[].service / purposes[], sensitive, spiCat
 * and adds what an access request needs beyond a receipt: the profile, every
 * channel's state and its last change, every ledger event with its evidence,
 * the page versions the person saw, the suppression entries of their
 * addresses, and the ledger digest the report was made at.
 */
import { createHash } from 'node:crypto';
import { CHANNEL_INFO, CHANNELS, type Channel, type ContactChannel } from './channels.js';
import type { LedgerBlockInfo, LedgerDigest } from './digest.js';
import { makeDigest } from './digest.js';
import type { LedgerEvent } from './ledger.js';
import { consentView, profileView, suppressionView, type SuppressionView } from './operations.js';
import { basesOf, type Basis, type Bases, type ConsentState } from './policy.js';
import type { Suppression, SuppressionChannel } from './suppressions.js';
import type { Profile } from './profile.js';
import type { Service } from './services.js';
import type { ConsentStore, LastChanges } from './store.js';

export const REPORT_VERSION = 'consent-person-report/1';
export type ReportLang = 'en' | 'fr';

/** A published page version as the person saw it: its whole definition (the text they were shown). */
export interface PageSeen {
  slug: string;
  version: number;
  /** Null when the version is not in the store. */
  publishedAt: string | null;
  /** The page definition (title, intro, wording, channels, services, confirmation); null when the version is not in the store. */
  definition: Record<string, unknown> | null;
  /** The ids of the person's events recorded from this page version. */
  eventIds: number[];
}

/** The last event that set a flag or a subscription: when and how. */
export interface LastChangeView {
  eventId: number;
  action: string;
  occurredAt: string;
  source: string;
  actor: string;
  reason: string | null;
}

export interface ChannelReport {
  channel: Channel;
  label: string;
  /** "No longer contact" set on this channel. */
  optedOut: boolean;
  /** Contact channels only (null for `all`): may the person be contacted there now (THE reachability rule's domain mirror, basis and grant included). */
  reachable: boolean | null;
  /** Contact channels only: the store's consent basis of the channel now (`opt-out`: reachable unless refused; `opt-in`: only once granted). */
  basis: Basis | null;
  /** Contact channels only: granted (last event on the channel an optin), refused (opted out of it or of all), unknown (no event). */
  consent: ConsentState | null;
  /** The event that decided `consent` (null for unknown, and for `all`). */
  decidedBy: LastChangeView | null;
  lastChange: LastChangeView | null;
}

export interface ServiceReport {
  /** Kantara's `service`: the service as the person knows it (its label). */
  service: string;
  name: string;
  channel: string;
  status: string;
  since: string;
  lastChange: LastChangeView | null;
  purposes: {
    purpose: string;
    /** `explicit` (a double opt-in service: confirmed by the person) or `expressed` (a subscription recorded once). */
    consentType: 'explicit' | 'expressed';
    piiCategory: string[];
    primaryPurpose: true;
    termination: string;
    thirdPartyDisclosure: false;
  }[];
}

export interface PersonReport {
  version: typeof REPORT_VERSION;
  /** Not recorded by the store: null (the controller's brand, when configured, will say it). */
  jurisdiction: string | null;
  /** When the person's consent was last given or changed (their latest flag or subscription event); null: never. */
  consentTimestamp: string | null;
  /** How that last change was collected: its event's source (`operator`, `landing:<slug>@v<n>`, `import:<file>`, `one-click`, …). */
  collectionMethod: string | null;
  /** Stable for one person at one ledger head and time: SHA-256 of them, as a UUID-shaped text. */
  consentReceiptID: string;
  language: ReportLang;
  /** The person's email; null once erased (the placeholder is no identifier of theirs). */
  piiPrincipalId: string | null;
  /** The controller (the brand, `brand set`), when one is configured; else empty. */
  piiControllers: ReportController[];
  policyUrl: string | null;
  generatedAt: string;
  profile: {
    id: number;
    email: string | null;
    phone: string | null;
    firstName: string | null;
    lastName: string | null;
    createdAt: string;
    updatedAt: string;
    erased: boolean;
    erasedAt: string | null;
  };
  channels: ChannelReport[];
  services: ServiceReport[];
  /** Every ledger event of the person, oldest first, with its evidence (the user agent where it is still kept). */
  events: {
    id: number;
    occurredAt: string;
    channel: string;
    service: string | null;
    action: string;
    source: string;
    actor: string;
    reason: string | null;
    evidence: Record<string, unknown> | null;
    /** Set on an `address` event: "phone number changed" (its evidence holds the keys of the old and new number, never a number). */
    description?: string;
  }[];
  pagesSeen: PageSeen[];
  suppressions: SuppressionView[];
  sensitive: false;
  spiCat: string[];
  /** The chain's head when the report was made (null: empty ledger): every event above is at or below it. */
  ledgerDigest: LedgerDigest | null;
}

/** Kantara's piiControllers entry: who is responsible for the data (the store's brand). */
export interface ReportController {
  piiController: string;
  contact: string | null;
  address: string | null;
  privacyUrl: string | null;
}

/** What the report needs beyond the store: the published page versions (landing's, not the domain's). */
export type PageVersionLookup = (slug: string, version: number) => Promise<{ publishedAt: string; definition: unknown } | null>;

const lastChange = (e: LedgerEvent | undefined): LastChangeView | null =>
  e ? { eventId: e.id, action: e.action, occurredAt: e.occurredAt, source: e.source, actor: e.actor, reason: e.reason } : null;

/** The page version an event was recorded from: its evidence's `page`/`version` (landing submissions, one-click). */
function pageOf(e: LedgerEvent): { slug: string; version: number } | null {
  const ev = e.evidence;
  if (ev && typeof ev.page === 'string' && Number.isInteger(ev.version)) return { slug: ev.page, version: ev.version as number };
  return null;
}

export interface ReportParts {
  profile: Profile;
  /** Newest first, as store.history gives them. */
  history: LedgerEvent[];
  subscriptions: Awaited<ReturnType<ConsentStore['services']['subscriptionsOf']>>;
  services: Service[];
  /** Every suppression entry of the person's addresses, in force or expired. */
  suppressions: Suppression[];
  /** Those in force now (what reachability counts). */
  blocking: Suppression[];
  pages: PageSeen[];
  head: LedgerBlockInfo | null;
  /** The consent basis of every contact channel now (store.policy). */
  bases: Bases;
  database: string;
  generatedAt: string;
  lang: ReportLang;
  controller: ReportController | null;
}

/** The report from its parts (pure). */
export function buildReport(p: ReportParts): PersonReport {
  const erased = p.profile.erasedAt !== null;
  const events = [...p.history].sort((a, b) => a.id - b.id);
  const lastOf = new Map<string, LedgerEvent>();
  for (const e of events) {
    if (e.service === null && (e.action === 'optout' || e.action === 'optin')) lastOf.set(`c:${e.channel}`, e);
    else if (e.service !== null) lastOf.set(`s:${e.service}`, e);
  }
  const view = profileView(p.profile, {}, p.subscriptions, p.blocking, p.bases);
  const lastConsent: LastChanges = {};
  for (const c of CHANNELS) {
    const e = lastOf.get(`c:${c}`);
    if (e) lastConsent[c] = e;
  }
  const consent = consentView(p.profile, p.bases, lastConsent);
  const consentEvents = events.filter((e) => e.service !== null || e.action === 'optout' || e.action === 'optin');
  const latest = consentEvents.at(-1) ?? null;
  const digest = p.head ? makeDigest(p.head, p.database, p.generatedAt) : null;
  const receiptId = createHash('sha256').update(`${p.profile.id}\n${digest?.hash ?? ''}\n${p.generatedAt}`).digest('hex');
  const byName = new Map(p.services.map((s) => [s.name, s]));
  return {
    version: REPORT_VERSION,
    jurisdiction: null,
    consentTimestamp: latest?.occurredAt ?? null,
    collectionMethod: latest?.source ?? null,
    consentReceiptID: `${receiptId.slice(0, 8)}-${receiptId.slice(8, 12)}-${receiptId.slice(12, 16)}-${receiptId.slice(16, 20)}-${receiptId.slice(20, 32)}`,
    language: p.lang,
    piiPrincipalId: erased ? null : p.profile.email,
    piiControllers: p.controller ? [p.controller] : [],
    policyUrl: p.controller?.privacyUrl ?? null,
    generatedAt: p.generatedAt,
    profile: {
      id: p.profile.id,
      email: erased ? null : p.profile.email,
      phone: p.profile.phone,
      firstName: p.profile.firstName,
      lastName: p.profile.lastName,
      createdAt: p.profile.createdAt,
      updatedAt: p.profile.updatedAt,
      erased,
      erasedAt: p.profile.erasedAt,
    },
    channels: CHANNELS.map((c) => {
      const cv = c === 'all' ? null : consent[c as ContactChannel];
      return {
        channel: c,
        label: CHANNEL_INFO[c].name[p.lang],
        optedOut: p.profile.optOut[c],
        reachable: c === 'all' ? null : view.reachable[c as ContactChannel],
        basis: cv?.basis ?? null,
        consent: cv?.state ?? null,
        decidedBy: cv && cv.eventId !== null ? lastChange(events.find((e) => e.id === cv.eventId)) : null,
        lastChange: lastChange(lastOf.get(`c:${c}`)),
      };
    }),
    services: p.subscriptions.map((s) => {
      const service = byName.get(s.service);
      const channel = service?.channel ?? 'email';
      return {
        service: service?.label ?? s.service,
        name: s.service,
        channel,
        status: s.status,
        since: s.since,
        lastChange: lastChange(lastOf.get(`s:${s.service}`)),
        purposes: [
          {
            purpose: service?.description ?? service?.label ?? s.service,
            consentType: service?.doubleOptIn ? 'explicit' : 'expressed',
            piiCategory: [channel === 'email' ? 'email address' : channel === 'sms' || channel === 'phone' ? 'phone number' : channel],
            primaryPurpose: true,
            termination: 'until unsubscribed or opted out of its channel',
            thirdPartyDisclosure: false,
          },
        ],
      };
    }),
    events: events.map((e) => ({
      id: e.id,
      occurredAt: e.occurredAt,
      channel: e.channel,
      service: e.service,
      action: e.action,
      source: e.source,
      actor: e.actor,
      reason: e.reason,
      evidence: e.evidence,
      ...(e.action === 'address' ? { description: 'phone number changed' } : {}),
    })),
    pagesSeen: p.pages,
    suppressions: p.suppressions.map(suppressionView),
    sensitive: false,
    spiCat: [],
    ledgerDigest: digest,
  };
}

/**
 * Reads everything the store holds about the person and builds the report.
 * The history is read before the ledger head, so the digest always covers
 * every event shown (a change recorded in between only moves the head on).
 */
export async function gatherReport(
  store: ConsentStore,
  profile: Profile,
  pageVersion: PageVersionLookup,
  options: { generatedAt: string; lang?: ReportLang; controller?: ReportController | null },
): Promise<PersonReport> {
  const history = await store.history(profile.id);
  const subscriptions = await store.services.subscriptionsOf(profile.id);
  const services = subscriptions.length > 0 ? (await store.services.list()) : [];
  // An erased profile's addresses are gone; the keyed-only entries the erasure left hold no address of theirs.
  const suppressions: Suppression[] = [];
  let blocking: Suppression[] = [];
  if (profile.erasedAt === null) {
    const addresses: [SuppressionChannel, string | null][] = [['email', profile.email], ['sms', profile.phone], ['phone', profile.phone]];
    for (const [channel, address] of addresses) {
      const entry = address ? await store.suppressions.findByAddress(channel, address) : null;
      if (entry) suppressions.push(entry);
    }
    blocking = await store.suppressions.blocking(profile.email, profile.phone, options.generatedAt);
  }
  const seen = new Map<string, PageSeen>();
  for (const e of [...history].sort((a, b) => a.id - b.id)) {
    const page = pageOf(e);
    if (!page) continue;
    const key = `${page.slug}@${page.version}`;
    let entry = seen.get(key);
    if (!entry) {
      const v = await pageVersion(page.slug, page.version);
      entry = { slug: page.slug, version: page.version, publishedAt: v?.publishedAt ?? null, definition: (v?.definition as Record<string, unknown>) ?? null, eventIds: [] };
      seen.set(key, entry);
    }
    entry.eventIds.push(e.id);
  }
  const bases = basesOf(await store.policy.current());
  const head = await store.digests.head();
  return buildReport({
    bases,
    profile,
    history,
    subscriptions,
    services,
    suppressions,
    blocking,
    pages: [...seen.values()],
    head,
    database: store.location,
    generatedAt: options.generatedAt,
    lang: options.lang ?? personLanguage([...seen.values()]),
    controller: options.controller ?? null,
  });
}

/**
 * The person's language, as far as the store knows it: that of the page they
 * used last (the page version of their latest event from a page), else English.
 */
export function personLanguage(pages: readonly PageSeen[]): ReportLang {
  let last: PageSeen | null = null;
  for (const p of pages) if (p.definition && (!last || Math.max(...p.eventIds) > Math.max(...last.eventIds))) last = p;
  const lang = last?.definition?.lang;
  return lang === 'fr' || lang === 'en' ? lang : 'en';
}
