/**
 * What both stores share about the hash-chained ledger: the canonical text of
 * a stored event row, and the checking of a chain. A store feeds the checker
 * its blocks in id order and each block's events in id order, read however
 * suits its database; both stores thus give the same answer on the same rows.
 */
import type { Channel } from '../../consent/channels.js';
import { BlockHasher, canonicalEvent, GENESIS_HASH, NON_CONSENT_PROFILE_ACTIONS, type LedgerVerification } from '../../consent/ledger.js';

/** The domain's NON_CONSENT_PROFILE_ACTIONS as an SQL list, `('erase', 'reason', 'address')`: what the consent-state readers leave out. */
export const NON_CONSENT_PROFILE_ACTIONS_SQL = `(${NON_CONSENT_PROFILE_ACTIONS.map((a) => `'${a}'`).join(', ')})`;

/**
 * An event to append (both stores' appendEvents). `reason` and `evidence`,
 * when given (null included), replace the context's for this event
 * (suppression entries each have their own reason); `addressKey` is set on
 * address events, whose profileId is null.
 */
export interface PendingEvent {
  profileId: number | null;
  channel: Channel;
  action: string;
  service?: string | null;
  reason?: string | null;
  evidence?: Record<string, unknown> | null;
  addressKey?: string | null;
}

/** The reason, evidence text and address key an event is stored (and hashed) with, given its context's reason and evidence text. */
export function eventFields(e: PendingEvent, contextReason: string | null, contextEvidence: string | null) {
  return {
    reason: e.reason !== undefined ? e.reason : contextReason,
    evidence: e.evidence !== undefined ? (e.evidence ? JSON.stringify(e.evidence) : null) : contextEvidence,
    addressKey: e.addressKey ?? null,
  };
}

/**
 * The fields after `action` in canonicalEvent's text (JSON.stringify), for
 * the set-based hashing of an import's block: `tail` for an event with the
 * context's evidence; `head` + its own evidence (JSON) + `end` for an event
 * that has its own (an `address` event).
 */
export function canonicalTails(source: string, actor: string, reason: string | null, evidence: string | null, at: string): { tail: string; head: string; end: string } {
  return {
    tail: ',' + JSON.stringify([source, actor, reason, evidence, at]).slice(1, -1),
    head: ',' + JSON.stringify([source, actor, reason]).slice(1, -1) + ',',
    end: ',' + JSON.stringify(at),
  };
}

/** A ledger_events row as both schemas store it (times and evidence as text). */
export interface EventRow {
  id: number;
  /** NULL for address events. */
  profile_id: number | null;
  channel: string;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  reason: string | null;
  evidence: string | null;
  occurred_at: string;
  /** Set on address events only (schema version 4 on). */
  address_key?: string | null;
  /** Read by history only: the user agent kept beside the event (ledger_user_agents), when it still exists. */
  user_agent?: string | null;
}

export interface BlockRow {
  id: number;
  first_event_id: number;
  last_event_id: number;
  event_count: number;
  prev_hash: string;
  hash: string;
}

export function canonicalRow(r: EventRow): string {
  return canonicalEvent({
    id: r.id,
    profileId: r.profile_id,
    channel: r.channel,
    action: r.action,
    source: r.source,
    actor: r.actor,
    reason: r.reason,
    evidenceJson: r.evidence,
    occurredAt: r.occurred_at,
    service: r.service,
    addressKey: r.address_key ?? null,
  });
}

/**
 * Recomputes every block's hash from its events and names the first place
 * the chain breaks. Use: for each block (id order) `block(b)`; if it returns a
 * result, stop there; else `event(e)` for each of its events (id order,
 * stopping on a result), then `endBlock()`; finally `finish(firstStrayEventId)`
 * with the smallest event id above the last block's, or null.
 */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private prevLast = 0;
  private blocks = 0;
  private events = 0;
  private current: { b: BlockRow; hasher: BlockHasher; expected: number } | null = null;

  private fail(brokenEventId: number | null, blockId: number | null, problem: string): LedgerVerification {
    return { ok: false, blocks: this.blocks, events: this.events, brokenEventId, blockId, problem };
  }

  /** The id after the last block's last event: where stray events would start. */
  get lastEventId(): number {
    return this.prevLast;
  }

  block(b: BlockRow): LedgerVerification | null {
    if (b.prev_hash !== this.prevHash) {
      return this.fail(b.first_event_id, b.id, `block ${b.id} does not follow the block before it (a block was removed or rewritten)`);
    }
    if (b.first_event_id !== this.prevLast + 1) {
      return this.fail(this.prevLast + 1, b.id, `event ${this.prevLast + 1} is missing (deleted)`);
    }
    this.current = { b, hasher: new BlockHasher(b.prev_hash), expected: b.first_event_id };
    return null;
  }

  event(e: EventRow): LedgerVerification | null {
    const c = this.current!;
    if (e.id !== c.expected) return this.fail(c.expected, c.b.id, `event ${c.expected} is missing (deleted)`);
    c.hasher.add(canonicalRow(e));
    c.expected++;
    return null;
  }

  endBlock(): LedgerVerification | null {
    const { b, hasher, expected } = this.current!;
    this.current = null;
    if (expected !== b.last_event_id + 1) return this.fail(expected, b.id, `event ${expected} is missing (deleted)`);
    if (hasher.size !== b.event_count || hasher.digest() !== b.hash) {
      const where = b.first_event_id === b.last_event_id ? `event ${b.first_event_id}` : `an event among ${b.first_event_id}–${b.last_event_id}`;
      return this.fail(b.first_event_id, b.id, `${where} was edited after it was recorded (block ${b.id} no longer matches its hash)`);
    }
    this.prevHash = b.hash;
    this.prevLast = b.last_event_id;
    this.blocks++;
    this.events += b.event_count;
    return null;
  }

  finish(strayEventId: number | null): LedgerVerification {
    if (strayEventId !== null) return this.fail(strayEventId, null, `event ${strayEventId} was added outside the tool (it belongs to no block)`);
    return { ok: true, blocks: this.blocks, events: this.events, head: this.prevHash };
  }
}

/** History's events read with their user agent (kept beside the ledger, until an erasure deletes it). */
export const HISTORY_SQL = (param: string) =>
  `SELECT e.*, u.user_agent FROM ledger_events e LEFT JOIN ledger_user_agents u ON u.event_id = e.id WHERE e.profile_id = ${param} ORDER BY e.id DESC`;

/** The evidence as it was given while its user agent is kept (in its digest's place), else as stored (the digest). */
export function evidenceOf(r: Pick<EventRow, 'evidence' | 'user_agent'>): Record<string, unknown> | null {
  const evidence = r.evidence === null ? null : (JSON.parse(r.evidence) as Record<string, unknown>);
  if (!evidence || r.user_agent == null) return evidence;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(evidence)) {
    if (k === 'userAgentDigest') out.userAgent = r.user_agent;
    else out[k] = v;
  }
  return out;
}
