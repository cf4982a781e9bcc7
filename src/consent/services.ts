/**
 * Services (newsletters, offers, alerts): what a person is contacted about,
 * where the channel flags say how. A subscription needs both: a profile may
 * receive a service's messages only when subscribed AND reachable on the
 * service's channel, so an opt-out always wins.
 */
import type { ContactChannel, OptOutFlags } from './channels.js';
import { invalid } from './errors.js';
import type { SubscriptionAction } from './ledger.js';
import { reachability, type BasisContext, type SuppressionsInForce } from './profile.js';

export interface Service {
  name: string;
  label: string;
  description: string | null;
  channel: ContactChannel;
  doubleOptIn: boolean;
  createdAt: string;
}

export type SubscriptionStatus = 'pending' | 'subscribed' | 'unsubscribed';

export interface Subscription {
  service: string;
  status: SubscriptionStatus;
  /** When the status last changed. */
  since: string;
}

/** Same rules as a landing page slug: lower-case letters, digits, hyphens, at most 64. */
export const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export function checkServiceName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw invalid(
      `Invalid service name "${name}".`,
      'Use lower-case letters, digits and hyphens (at most 64, not starting or ending with a hyphen).',
    );
  }
  return name;
}

/**
 * What a person or operator asks for:
 * - `subscribe`: an explicit, confirmed subscription (operator with proof, or a confirmation link);
 * - `request`: a subscription that still needs confirmation when the service has double opt-in
 *   (a landing page without a confirmation, an import, an operator without proof);
 * - `confirm`: the person confirms a pending subscription;
 * - `unsubscribe`;
 * - `request-unverified`: a `request` from someone who proved nothing (a static
 *   page's email field): like `request`, except that it never re-subscribes a
 *   person who unsubscribed from a single-opt-in service (a double-opt-in one
 *   only goes to `pending`, which needs the person's own confirmation).
 */
export type SubscriptionIntent = 'subscribe' | 'request' | 'request-unverified' | 'confirm' | 'unsubscribe';

export interface SubscriptionStep {
  action: SubscriptionAction;
  next: SubscriptionStatus;
}

/**
 * The ledger action and new status for an intent, or `null` when it changes
 * nothing (and so records nothing). `confirm` only confirms a pending
 * subscription; a subscribe to a double-opt-in service without proof goes to
 * `pending`.
 */
export function planSubscription(
  service: Pick<Service, 'doubleOptIn'>,
  current: SubscriptionStatus | null,
  intent: SubscriptionIntent,
): SubscriptionStep | null {
  switch (intent) {
    case 'unsubscribe':
      return current === 'subscribed' || current === 'pending' ? { action: 'unsubscribe', next: 'unsubscribed' } : null;
    case 'confirm':
      return current === 'pending' ? { action: 'confirm', next: 'subscribed' } : null;
    case 'subscribe':
      return current === 'subscribed' ? null : { action: 'subscribe', next: 'subscribed' };
    case 'request-unverified':
      if (current === 'unsubscribed' && !service.doubleOptIn) return null;
      return planSubscription(service, current, 'request');
    case 'request':
      if (current === 'subscribed' || current === 'pending') return null;
      return service.doubleOptIn ? { action: 'request', next: 'pending' } : { action: 'subscribe', next: 'subscribed' };
  }
}

/** May this profile receive this service's messages now? (`suppressions`: the entries in force for its addresses.) */
export function mayReceive(
  optOut: OptOutFlags,
  service: Pick<Service, 'channel'>,
  status: SubscriptionStatus | null,
  suppressions: SuppressionsInForce = [],
  basis?: BasisContext,
): boolean {
  return status === 'subscribed' && reachability(optOut, suppressions, null, basis)[service.channel];
}

export interface ServiceSummary extends Service {
  subscribers: number;
  pending: number;
  /** Subscribed and reachable on the service's channel: who may receive it today. */
  receiving: number;
}

/** A new service's fields, checked: errors name the field. */
export function checkNewService(s: NewService): NewService {
  checkServiceName(s.name);
  const label = s.label.trim();
  if (!label) throw invalid('Invalid label: it is empty.', 'Give --label the name people will see, e.g. "Weekly newsletter".');
  if (label.length > 200) throw invalid('Invalid label: at most 200 characters.');
  const description = s.description?.trim() || null;
  return { ...s, label, description };
}

export interface NewService {
  name: string;
  label: string;
  description: string | null;
  channel: ContactChannel;
  doubleOptIn: boolean;
}

export interface SubscriptionChange {
  profileId: number;
  service: string;
  intent: SubscriptionIntent;
}

export interface SubscriptionResult {
  profileId: number;
  service: string;
  before: SubscriptionStatus | null;
  after: SubscriptionStatus | null;
  /** The ledger action written, or null when nothing changed. */
  action: SubscriptionAction | null;
}

/** The domain's view of where services and subscriptions are kept. */
export interface ServiceRepository {
  create(service: NewService, at: string): Promise<Service>;
  get(name: string): Promise<Service | null>;
  list(): Promise<ServiceSummary[]>;
  summary(name: string): Promise<ServiceSummary | null>;
  subscriptionsOf(profileId: number): Promise<Subscription[]>;
  /**
   * subscriptionsOf of several profiles in one read (a listing's page): an
   * entry for every id given (empty when none), each exactly what
   * subscriptionsOf(id) gives. At most a few thousand ids per call.
   */
  subscriptionsOfMany(profileIds: readonly number[]): Promise<Map<number, Subscription[]>>;
  /** Applies the changes and their ledger events in one transaction. */
  change(changes: readonly SubscriptionChange[], context: import('./ledger.js').ChangeContext): Promise<SubscriptionResult[]>;
  /**
   * Every pending subscription of a service, in profile id order, each with
   * `reachable`: whether the profile may be contacted on the service's channel
   * now (`isReachable` in profile.ts, the store's one reachability predicate),
   * except that an `erasure` suppression entry does not count when the pending
   * request was the person's own (a page they filled in): confirming the
   * double opt-in is how a person whose address was erased comes back
   * (confirmationReachableSql in src/store/shared/reachability-sql.ts). A
   * request an operator or an import made for an erased address is not mailed.
   * Unreachable ones are yielded too, so that a mailing can leave them out and
   * count them exactly. `not-found` when there is no such service.
   */
  pending(service: string): AsyncIterable<PendingSubscription>;
}

export interface PendingSubscription {
  profileId: number;
  email: string;
  /** When it became pending. */
  since: string;
  reachable: boolean;
}

/**
 * The people a confirmation mailing may contact: the pending subscribers who
 * are reachable on the service's channel. Mailing a confirmation to someone
 * opted out of that channel or of `all` contacts someone who said no, so they
 * are left out and counted (`leftOut()`, exact once the rows are consumed).
 */
export function confirmationRecipients(pending: AsyncIterable<PendingSubscription>): {
  rows: AsyncIterable<PendingSubscription>;
  leftOut: () => number;
} {
  let leftOut = 0;
  async function* rows() {
    for await (const p of pending) {
      if (p.reachable) yield p;
      else leftOut++;
    }
  }
  return { rows: rows(), leftOut: () => leftOut };
}
