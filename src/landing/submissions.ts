import type { ChangeContext } from '../consent/ledger.js';
import type { SubscriptionChange, SubscriptionResult } from '../consent/services.js';
import type { ConsentRequest, ConsentResult } from '../consent/store.js';

/**
 * Consent changes that share one context (one source, one piece of evidence):
 * channel flags and, from a page with services, subscription changes, written
 * in the same transaction.
 */
export interface ConsentGroup {
  requests: readonly ConsentRequest[];
  subscriptions?: readonly SubscriptionChange[];
  context: ChangeContext;
}

/**
 * What one group's write did: `consent` as applyConsent returns it (one entry
 * per request, in order; `changes` empty where nothing changed) and
 * `subscriptions` as ServiceRepository.change returns it (one entry per
 * subscription change, in order; `action` null where nothing changed).
 * Every non-empty `changes` entry and every non-null `action` is exactly one
 * ledger event written: `ledgerEvents` counts them.
 */
export interface ConsentGroupResult {
  consent: ConsentResult[];
  subscriptions: SubscriptionResult[];
}

/** The ledger events a group's write added: the channel changes plus the subscription changes. */
export function ledgerEvents(result: ConsentGroupResult): number {
  let n = 0;
  for (const r of result.consent) n += r.changes.length;
  for (const s of result.subscriptions) if (s.action !== null) n++;
  return n;
}

/**
 * What the landing server needs from a store beyond ConsentStore itself
 * (implemented in src/store/sqlite/ and src/store/postgres/landing-submissions.ts).
 */
export interface LandingSubmissions {
  /**
   * The secret salt of client-address hashes: made once, kept in the store,
   * never leaves the server. The raw address is never stored.
   */
  clientSalt(): Promise<Buffer>;
  /**
   * A static page's submission: the profile with this email (created when
   * there is none) and its choices, in ONE transaction, so a profile never
   * exists without the choices it was created with. Resolves to what was
   * written, as one group of applyConsentGroups (`consent` has one entry, the
   * profile's; creating the profile itself writes no ledger event).
   */
  createAndApply(
    email: string,
    group: {
      wanted: ConsentRequest['wanted'];
      /** The boxes ticked that grant (ConsentRequest.grant). */
      grant?: ConsentRequest['grant'];
      subscriptions?: readonly Omit<SubscriptionChange, 'profileId'>[];
      context: ChangeContext;
    },
  ): Promise<ConsentGroupResult>;
  /**
   * Group commit: every group applied in ONE write transaction (one fsync),
   * each group with its own context (its own ledger block and evidence), as
   * applyConsent would apply it (channel requests first, then the group's
   * subscription changes, as ServiceRepository.change would). All or nothing.
   * One result per group, in order.
   */
  applyConsentGroups(groups: readonly ConsentGroup[]): Promise<ConsentGroupResult[]>;
}
