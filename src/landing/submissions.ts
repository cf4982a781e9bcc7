import type { ChangeContext } from '../consent/ledger.js';
import type { SubscriptionChange } from '../consent/services.js';
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
 * What the landing server needs from a store beyond ConsentStore itself
 * (implemented in src/store/sqlite/landing-submissions.ts).
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
   * exists without the choices it was created with.
   */
  createAndApply(
    email: string,
    group: { wanted: ConsentRequest['wanted']; subscriptions?: readonly Omit<SubscriptionChange, 'profileId'>[]; context: ChangeContext },
  ): Promise<void>;
  /**
   * Group commit: every group applied in ONE write transaction (one fsync),
   * each group with its own context (its own ledger block and evidence), as
   * applyConsent would apply it. All or nothing.
   */
  applyConsentGroups(groups: readonly ConsentGroup[]): Promise<ConsentResult[][]>;
}
