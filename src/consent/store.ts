import type { Channel, ContactChannel, OptOutFlags } from './channels.js';
import type { ChangeContext, LedgerEvent, LedgerVerification, VerifyOptions } from './ledger.js';
import type { BulkStore } from './bulk.js';
import type { ConsentChange, NewProfile, Profile, ProfileRef } from './profile.js';
import type { ServiceRepository } from './services.js';
import type { FeedbackRepository } from './feedback.js';
import type { Suppression, SuppressionAddOutcome, SuppressionRepository } from './suppressions.js';
import type { SmsRepository } from './sms.js';
import type { AsOfRepository } from './as-of-repository.js';
import type { LedgerDigestRepository } from './digest.js';
import type { PolicyRepository } from './policy.js';
import type { FeedRepository } from './feed.js';
import type { ApiKeyRepository } from './api-keys.js';
import type { ReachRepository } from './reach-check.js';
import type { WebhookRepository } from './webhooks.js';
import type { StatsRepository } from './stats.js';
import type { ReasonRepository } from './reasons.js';

/**
 * Which profiles a listing returns (`listProfiles`, `bulk.listContacts`).
 * Every criterion given must hold (AND); none given: every profile. Profiles
 * come in id order; `limit` caps how many.
 */
export interface ProfileFilter {
  /**
   * Only profiles that may be contacted on this channel: `isReachable(optOut,
   * channel)` (profile.ts), i.e. neither `all` nor the channel opted out.
   */
  reachable?: ContactChannel;
  /**
   * Only profiles that may NOT be contacted on this channel: exactly the
   * complement of `reachable` for the same channel, whatever rules
   * reachability gains (a store implements it as the negation of its one
   * `reachable` predicate, never as a second rule). The suppression list a
   * sending system loads: `reachable: c` and `unreachable: c` partition the
   * store.
   */
  unreachable?: ContactChannel;
  /**
   * Only profiles opted out of this channel: `isOptedOut(optOut, channel)`
   * (profile.ts), i.e. for `all` the `all` flag itself, for a contact channel
   * its flag OR `all`.
   */
  optedOut?: Channel;
  /** Only those who may receive this service: subscribed and reachable on its channel. */
  subscribed?: string;
  limit?: number;
}

/** The last event that set each flag, for "when and how it last changed". */
export type LastChanges = Partial<Record<Channel, LedgerEvent>>;

export interface ConsentRequest {
  profileId: number;
  /** The wanted value of each flag named; the store writes only the difference. */
  wanted: Partial<OptOutFlags>;
  /**
   * Channels the person (or an operator with a reason, or an import with
   * --allow-optin and --proof) has given consent to: a grant. A grant never
   * clears a flag by itself (`wanted` does, where the caller may: the static
   * page may not). A flag cleared by `wanted` is the `optin` that grants (as
   * always); where the flag is clear, an `optin` event that changes no flag is
   * written only when the channel's basis is `opt-in` (read in the write's
   * transaction) and the profile has no grant there yet (planGrants): under
   * `opt-out` nothing is recorded that was not before.
   */
  grant?: readonly ContactChannel[];
}

/** What `eraseProfile` did. */
export interface ErasureResult {
  /** The profile after the erasure (erasedAt set, email the placeholder, phone and names null). */
  profile: Profile;
  /** The `erasure` entries kept for its email and phone (keyed-only), with what add() did for each. */
  suppressions: { outcome: SuppressionAddOutcome; entry: Suppression }[];
  /** How many page-submission user agents (kept beside the ledger) were deleted. */
  userAgentsDeleted: number;
}

export interface ConsentResult {
  profile: Profile;
  changes: ConsentChange[];
}

/**
 * What the domain needs from a store. Every method is asynchronous so that a
 * server database can implement it; the SQLite store happens to be
 * synchronous underneath, and nothing outside src/store may know that.
 */
export interface ConsentStore {
  /** Where the store is, as it may be shown anywhere: a file path, or a PostgreSQL URL with its password masked (`postgres://u:***@h/db`). */
  readonly location: string;
  readonly services: ServiceRepository;
  /** Mailbox providers' bounces and complaints, each report recorded once (`feedback ingest`). */
  readonly feedback: FeedbackRepository;
  /** The suppression list (by address): see suppressions.ts. */
  readonly suppressions: SuppressionRepository;
  /** Bulk CSV import (staging and one set-based write). */
  readonly bulk: BulkStore;
  /** Inbound SMS replies (STOP, START, HELP…): their log, review queue and settings (sms.ts). */
  readonly sms: SmsRepository;
  /** The ledger replayed at a past position: `--as-of`, send manifests (as-of-repository.ts). */
  readonly asOf: AsOfRepository;
  /** The chain's blocks as ledger digests name them (digest.ts): anchoring the chain outside the store. */
  readonly digests: LedgerDigestRepository;
  /** The consent basis of each channel (`policy show|set`): read from and written to the ledger (policy.ts). */
  readonly policy: PolicyRepository;
  /** The change feed's reads (`consent changes`): feed.ts. */
  readonly feed: FeedRepository;
  /** Keys of the check API (hashes only): api-keys.ts. */
  readonly apiKeys: ApiKeyRepository;
  /** The check API's batch facts (GET/POST /api/v1/reachable): reach-check.ts. */
  readonly reach: ReachRepository;
  /** Outbound webhooks and their deliveries, fanned out from the ledger (webhooks.ts). */
  readonly webhooks: WebhookRepository;
  /** The overview's counts (`consent stats`, `consent report`): see stats.ts. */
  readonly stats: StatsRepository;
  /** Unsubscribe-survey answers: `reason` ledger events, one per opt-out (reasons.ts). */
  readonly reasons: ReasonRepository;
  addProfile(profile: NewProfile, at: string): Promise<Profile>;
  findProfile(ref: ProfileRef): Promise<Profile | null>;
  /**
   * Every profile whose stored phone is exactly `phone` (an E.164 string such
   * as `+33612345678`, compared as stored, no normalisation), in id order;
   * empty when none. Several profiles may share a phone.
   */
  findProfilesByPhone(phone: string): Promise<Profile[]>;
  /** Several profiles by id, read from one snapshot; null where there is none. Same order as `ids`. */
  findProfiles(ids: readonly number[]): Promise<(Profile | null)[]>;
  listProfiles(filter: ProfileFilter): AsyncIterable<Profile>;
  /**
   * Applies each request's difference and writes its ledger events, all in one
   * transaction: either every request is recorded or none is.
   */
  applyConsent(requests: readonly ConsentRequest[], context: ChangeContext): Promise<ConsentResult[]>;
  /**
   * Erases a profile's personal data (GDPR art. 17) in ONE transaction:
   * - adds an `erasure` suppression entry, keyed-only (address NULL, its
   *   addressKey), for its email (channel `email`) and its phone (`sms` and
   *   `phone`), replacing any lower-ranked entry (SuppressionRepository.add's
   *   rule, with its `suppress` events); then nulls the clear address of every
   *   entry of that email and phone, except that a phone another, not erased,
   *   profile still has is put back into its entries (it is in the store
   *   anyway, and they must block that profile too);
   * - sets the profile's email to erasedEmail(id), phone and names to NULL,
   *   erased_at and updated_at to `context.occurredAt`; flags, subscriptions and
   *   ledger events stay;
   * - deletes the user agents kept beside its events (ledger_user_agents);
   * - appends an `erase` event: profile id, channel `all`, the context's
   *   source, actor, reason, evidence, time (no address).
   * The freed bytes are overwritten where the store can (SQLite: secure_delete
   * and a WAL checkpoint). A `not-found` error when there is no such profile, a
   * `conflict` when it is already erased (nothing written either way).
   */
  eraseProfile(profileId: number, context: ChangeContext): Promise<ErasureResult>;
  lastChanges(profileId: number): Promise<LastChanges>;
  /**
   * lastChanges of several profiles in one read (a listing's page): an entry
   * for every id given (an empty object when it has no event), each exactly
   * what lastChanges(id) gives. At most a few thousand ids per call.
   */
  lastChangesOf(profileIds: readonly number[]): Promise<Map<number, LastChanges>>;
  /**
   * Per profile, the last optin/optout event (service NULL) of each channel
   * (`all` included) that has one: what decides its consent states (`profile
   * show`, policy.ts). An entry for every id given. At most a few thousand ids per call.
   */
  lastConsentEventsOf(profileIds: readonly number[]): Promise<Map<number, LastChanges>>;
  /** Newest first. */
  history(profileId: number): Promise<LedgerEvent[]>;
  /**
   * Checks the ledger from one read snapshot, in two steps, and returns the first failure:
   * 1. the chain: every block's hash recomputed from its events (a ChainBroken result
   *    names the first broken event; nothing else is checked then);
   * 2. the state: the ledger replayed (replayLedger in ledger.ts: every flag and
   *    subscription is what its last event says; no event = opted in, no
   *    subscription) and compared, for every profile id found in `profiles`, in the
   *    events or in the subscriptions, with the profile's seven flags and its
   *    subscription rows (service by name, status). A StateDisagrees result names the
   *    lowest such profile id and the first disagreement of that profile as
   *    compareState orders them (missing profile row, flags in CHANNELS order,
   *    subscriptions by service name), with its `detail` sentence from compareState;
   *    then, when every profile agrees, the suppression list against the address
   *    events (SuppressionRepository's replay rule): a StateDisagrees result of
   *    kind `suppression` names the first (channel, addressKey) that disagrees.
   * `onProgress` is called during both steps.
   */
  verifyLedger(options?: VerifyOptions): Promise<LedgerVerification>;
  /**
   * A consistent copy of the store at a path that must not exist yet, checked
   * (integrity, then verifyLedger's two steps on the copy) before it is put in
   * place: when a check fails, an integrity error is thrown and no file is left.
   */
  backup(path: string): Promise<{ path: string; bytes: number; profiles: number; events: number }>;
  close(): Promise<void>;
}
