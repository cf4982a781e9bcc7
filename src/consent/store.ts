import type { Channel, ContactChannel, OptOutFlags } from './channels.js';
import type { ChangeContext, LedgerEvent, LedgerVerification } from './ledger.js';
import type { BulkStore } from './bulk.js';
import type { ConsentChange, NewProfile, Profile, ProfileRef } from './profile.js';
import type { ServiceRepository } from './services.js';

export interface ProfileFilter {
  /** Only profiles that may be contacted on this channel. */
  reachable?: ContactChannel;
  /** Only profiles opted out of this channel (or `all`). */
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
  lastChanges(profileId: number): Promise<LastChanges>;
  /** Newest first. */
  history(profileId: number): Promise<LedgerEvent[]>;
  verifyLedger(): Promise<LedgerVerification>;
  /** A consistent copy of the store, checked, at a path that must not exist yet. */
  backup(path: string): Promise<{ path: string; bytes: number; profiles: number; events: number }>;
  close(): Promise<void>;
}
