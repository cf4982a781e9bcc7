import { createHash } from 'node:crypto';
import type { Channel } from './channels.js';

export type ConsentAction = 'optout' | 'optin';
/** Subscription events: `request` makes a double opt-in subscription pending. */
export type SubscriptionAction = 'subscribe' | 'request' | 'confirm' | 'unsubscribe';

/** Who, when and how; shared by all events written in one change. */
export interface ChangeContext {
  /** `operator`, `import:<file>`, `landing:<slug>@v<n>`, `one-click`, … */
  source: string;
  actor: string;
  reason?: string | null;
  /** What the person saw and sent, for landing pages (page version, user agent, hashed address). */
  evidence?: Record<string, unknown> | null;
  occurredAt: string;
}

export interface LedgerEvent {
  id: number;
  profileId: number;
  channel: Channel;
  /** Set on subscription events: the service's name (channel is then the service's channel). */
  service: string | null;
  action: ConsentAction | SubscriptionAction;
  source: string;
  actor: string;
  reason: string | null;
  evidence: Record<string, unknown> | null;
  occurredAt: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * The exact bytes an event contributes to the chain. An array, not an object,
 * so that key order can never change the hash. `evidence` is hashed as stored
 * (its JSON text), so the store's text is what is proven.
 */
export function canonicalEvent(e: {
  id: number;
  profileId: number;
  channel: string;
  action: string;
  source: string;
  actor: string;
  reason: string | null;
  evidenceJson: string | null;
  occurredAt: string;
  /** Set on subscription events only; left out otherwise so channel events hash as they always did. */
  service?: string | null;
}): string {
  const fields: unknown[] = [e.id, e.profileId, e.channel, e.action, e.source, e.actor, e.reason, e.evidenceJson, e.occurredAt];
  if (e.service != null) fields.push(e.service);
  return JSON.stringify(fields);
}

/**
 * The ledger is a chain of blocks, one per transaction: a block's hash covers
 * the previous block's hash and every event of the block in id order. An
 * operator's change is a block of one or a few events; an import is a block of
 * many, which keeps a million-row import from paying a million chain links.
 */
export class BlockHasher {
  private readonly h = createHash('sha256');
  private count = 0;
  constructor(prevHash: string) {
    this.h.update(prevHash);
  }
  add(canonical: string): void {
    this.h.update('\n');
    this.h.update(canonical);
    this.count++;
  }
  /**
   * The same bytes as add() for each of `count` canonical texts joined by
   * newlines, in one update: for events hashed in bulk.
   */
  addJoined(joined: string, count: number): void {
    if (count === 0) return;
    this.h.update('\n');
    this.h.update(joined);
    this.count += count;
  }
  get size(): number {
    return this.count;
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

export type LedgerVerification =
  | { ok: true; blocks: number; events: number; /** The last block's hash: note it somewhere else to anchor the chain. */ head: string }
  | { ok: false; blocks: number; events: number; brokenEventId: number | null; blockId: number | null; problem: string };
