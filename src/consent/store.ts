import type { Channel, ContactChannel, OptOutFlags } from './channels.js';
import type { ChangeContext, LedgerEvent, LedgerVerification } from './ledger.js';
import type { BulkStore } from './bulk.js';
import type { ConsentChange, NewProfile, Profile, ProfileRef } from './profile.js';
import type { ServiceRepository } from './services.js';

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
  readonly location: string;
  readonly services: ServiceRepository;
  /** Bulk CSV import (staging and one set-based write). */
  readonly bulk: BulkStore;
  addProfile(profile: NewProfile, at: string): Promise<Profile>;
  findProfile(ref: ProfileRef): Promise<Profile | null>;
  /** Several profiles by id, read from one snapshot; null where there is none. Same order as `ids`. */
  findProfiles(ids: readonly number[]): Promise<(Profile | null)[]>;
  listProfiles(filter: ProfileFilter): AsyncIterable<Profile>;
  /**
   * Applies each request's difference and writes its ledger events, all in one
   * transaction: either every request is recorded or none is.
   */
  applyConsent(requests: readonly ConsentRequest[], context: ChangeContext): Promise<ConsentResult[]>;
  lastChanges(profileId: number): Promise<LastChanges>;
  /** Newest first. */
  history(profileId: number): Promise<LedgerEvent[]>;
  verifyLedger(): Promise<LedgerVerification>;
  /** A consistent copy of the store, checked, at a path that must not exist yet. */
  backup(path: string): Promise<{ path: string; bytes: number; profiles: number; events: number }>;
  close(): Promise<void>;
}
