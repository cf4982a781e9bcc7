/**
 * What an import needs from a store, beyond the ConsentStore basics. Both
 * stores implement it (src/store/sqlite/bulk-store.ts, src/store/postgres/bulk-store.ts;
 * src/imports drives it) with a temporary staging table and set-based SQL.
 */
import type { ChangeContext } from './ledger.js';
import type { ProfileFilter } from './store.js';
import { planSubscription, type Service, type SubscriptionStatus, type SubscriptionStep } from './services.js';

/**
 * Valid, normalised rows, flattened so that a batch crosses threads cheaply:
 * STAGED_WIDTH values per row, in the order email, phone, first name,
 * last name, set mask, clear mask, in file order. Bit i of a mask is CHANNELS[i]: the set
 * mask has the opt-outs the row sets, the clear mask those it asks to clear;
 * a channel in neither is left as is. Bit CHANNELS.length + k is the file's
 * k-th `subscribe_<service>` column: set = subscribe (`1`), clear =
 * unsubscribe (`0`).
 */
export interface StagedBatch {
  rows: number;
  values: (string | number | null)[];
}
export const STAGED_WIDTH = 6;

export interface ImportCounts {
  /** Distinct emails in the file (after merging duplicates). */
  profiles: number;
  new: number;
  updated: number;
  unchanged: number;
  /** Rows merged into an earlier row with the same email. */
  duplicatesMerged: number;
  /** Opt-out flags turned on (new profiles included). */
  optOutsSet: number;
  /** Opt-out flags turned off (only with --allow-optin). */
  optInsApplied: number;
  /** Opt-out flags the file asked to clear and that were kept (no --allow-optin). */
  optInsNotApplied: number;
  /** Subscriptions made `subscribed` (services without double opt-in). */
  subscriptionsSet: number;
  /** Subscriptions made `pending` (double opt-in services: they await confirmation). */
  subscriptionsPending: number;
  /** Subscriptions made `unsubscribed` (a `0` cell on a subscribed or pending one). */
  unsubscribed: number;
  /** `1` cells on an `unsubscribed` subscription, kept unsubscribed (no --allow-optin). */
  subscriptionsNotApplied: number;
  /**
   * Profiles of the file whose email or phone was erased before (`profile
   * erase`): they are imported, and stay unreachable on that channel (the
   * erasure entry matches them again) until the person confirms a double opt-in.
   */
  erasedAddresses: number;
  /**
   * Ledger events of flag and subscription changes: written, or on a dry run
   * the ones a real run would write. The grant-only events are not among them (grantEvents).
   */
  events: number;
  /**
   * Grant-only `optin` events of `consent_<channel>=1` cells (the flag was
   * clear and stays clear, the channel is opt-in, the profile held no grant
   * there): written in the same transaction and block as `events`, or on a
   * dry run the ones a real run would write.
   */
  grantEvents: number;
  /**
   * Existing profiles whose phone the import changes: one `address` event each
   * (the keys of the old and new number), in the same transaction and block as
   * `events`, or on a dry run the ones a real run would write. Not among `events`.
   */
  phoneChanges: number;
}

/**
 * One import, from staging to its single atomic write. Nothing of it is
 * visible in the store before `apply` commits; a failure (or a kill) before
 * that leaves the store as it was.
 */
export interface ImportSession {
  /**
   * What the file's header says, before the first stage(). A store may then
   * choose how to stage: into an empty store, rows may go straight into its
   * tables within the import's one write transaction (which then holds the
   * write lock from here to the commit).
   */
  header(header: { services: readonly string[]; grantable: number }): Promise<void>;
  stage(batch: StagedBatch): Promise<void>;
  /**
   * Plans against the current store and, unless `context` is null (a dry
   * run), writes profiles and ledger events in one transaction. A dry run
   * returns the same counts a real run would, `events` included (the events
   * it would record: one per opt-out flag set or cleared, one per
   * subscription set, requested or unsubscribed) and `grantEvents`.
   */
  apply(options: ApplyOptions, context: ChangeContext | null): Promise<ImportCounts>;
  /**
   * After apply: of the file's consent_ channels (`grantable`), those whose
   * basis was opt-out when apply read it (a mask of CHANNELS bits; 0 before
   * apply or without consent_ columns): their `1` cells take no grant-only event.
   */
  optOutConsent(): number;
  /** Drops the staging data; always called, also after a failure. */
  discard(): Promise<void>;
}

export interface ApplyOptions {
  allowOptin: boolean;
  /** The services of the staged subscription bits, in bit order (bit CHANNELS.length + k is services[k]). */
  services: readonly string[];
  /**
   * The channels of the file's `consent_<channel>` columns (a mask of CHANNELS
   * bits, 0 for none): their clear bits are grants, recorded by `apply` in the
   * import's transaction (src/store/shared/import-grants.ts). 0 costs no statement.
   */
  grantable: number;
}

export interface BulkStore {
  /**
   * `context` is the one `apply` will get: null for a dry run. `mayLoadDirectly`:
   * whether a first load may write (and hold the write lock) while the input is
   * still being read; true for a file, false for a stream of unknown pace (stdin).
   */
  beginImport(context: ChangeContext | null, options: { mayLoadDirectly: boolean }): Promise<ImportSession>;
  /** The store's service names, sorted (what `subscribe_<service>` columns may name, and what an export writes). */
  serviceNames(): Promise<string[]>;
  /**
   * A lean listing for mailings and link files: pages of [id, email] in id
   * order, filtered like listProfiles (which builds whole profiles, one at a time).
   */
  listContacts(filter: ProfileFilter): AsyncIterable<ReadonlyArray<readonly [id: number, email: string]>>;
  /** The subscriptions of the profiles whose ids are in [fromId, toId], by profile id then service name (for exports). */
  subscriptionsBetween(fromId: number, toId: number): Promise<{ profileId: number; service: string; status: SubscriptionStatus; since: string }[]>;
}

/**
 * What a `subscribe_<service>` cell does to a subscription: `want` is 1 for a
 * `1` cell, 0 for a `0` cell. A `1` is a request (double opt-in services go to
 * `pending`: an import proves no confirmation); on an `unsubscribed`
 * subscription it applies only with --allow-optin, like an opt-in, and is
 * otherwise `not-applied`. A `0` unsubscribes, and is recorded even where
 * there was no subscription, like an imported opt-out on a new profile: the
 * person said no, and subscribing them later needs --allow-optin.
 */
export function planImportedSubscription(
  service: Pick<Service, 'doubleOptIn'>,
  current: SubscriptionStatus | null,
  want: 0 | 1,
  allowOptin: boolean,
): SubscriptionStep | 'not-applied' | null {
  if (want === 0) return current === null ? { action: 'unsubscribe', next: 'unsubscribed' } : planSubscription(service, current, 'unsubscribe');
  if (current === 'unsubscribed' && !allowOptin) return 'not-applied';
  return planSubscription(service, current, 'request');
}
