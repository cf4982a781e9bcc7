import type { ContactChannel } from './channels.js';
import type { Basis, LedgerPosition, Moment, ReplayEvent } from './as-of.js';
import type { Profile } from './profile.js';

/**
 * The ledger read at a past position (ConsentStore.asOf). Every answer is a
 * replay of the ledger up to the position (events are append-only, so a
 * position's answer never changes while the chain stands), with the
 * profiles' current addresses matched to the address events by their keys
 * (an erased profile's by the keys its erase event recorded).
 */
export interface AsOfRepository {
  /** The chain's last block now (block 0, event 0, the genesis hash for an empty ledger). */
  head(): Promise<LedgerPosition>;
  /** "As of T": the longest prefix of the chain whose blocks were all created at or before `at`. */
  positionAt(at: string): Promise<LedgerPosition>;
  /** Block `blockId` as stored now, or null when there is none. */
  block(blockId: number): Promise<LedgerPosition | null>;
  /** A profile's own events up to `eventId`, in id order. */
  profileEvents(profileId: number, eventId: number): Promise<ReplayEvent[]>;
  /** The policy events (channel bases) up to `eventId`, in id order. */
  policyEvents(eventId: number): Promise<ReplayEvent[]>;
  /**
   * The address events up to `eventId` of a profile's addresses: its email's
   * key on channel email, its phone's key on sms and phone; in id order. The
   * phone is the one it had at `eventId` (phoneKeyAt over its `address`
   * events), else the one given (its phone now).
   */
  addressEvents(profileId: number, email: string | null, phone: string | null, eventId: number): Promise<ReplayEvent[]>;
  /**
   * The same for an erased profile (its addresses are placeholders now): the address events
   * up to `eventId` of the keys its erasure recorded (its phone's at `eventId` if it
   * changed since, as for addressEvents); none when it is not erased.
   */
  erasedAddressEvents(profileId: number, eventId: number): Promise<ReplayEvent[]>;
  /** The bases in force at `eventId` (the last policy event of each channel up to it; none: opt-out). */
  basesAt(eventId: number): Promise<Record<ContactChannel, Basis>>;
  /**
   * The profiles reachable on `channel` at the moment (as they are now), in
   * id order, a page at a time (constant memory): the SQL replay (as-of-sql.ts).
   */
  audience(channel: ContactChannel, moment: Moment): AsyncIterable<Profile[]>;
  /** The erased profile that had this (normalised) email, found by its key in the ledger; null when none is known. */
  erasedProfileByEmail(email: string): Promise<number | null>;
  /**
   * Per contact channel, how many profiles are reachable at each moment (in
   * the order given, positions non-decreasing): what `audience` would yield,
   * counted without a replay of every profile at every moment
   * (src/consent/reach-over-time.ts).
   */
  reachableOverTime(moments: readonly Moment[]): Promise<Record<ContactChannel, number[]>>;
  /** How many profiles existed at the moment (created at or before its time). */
  profilesAt(moment: Moment): Promise<number>;
}
