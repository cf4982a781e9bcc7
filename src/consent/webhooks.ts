/**
 * Outbound webhooks (issue 17). The ledger is the outbox: every consent
 * change already appends its events in the transaction of the change, so a
 * delivery is derived from a committed event (fan-out: events after a
 * webhook's cursor become its deliveries) and can never exist for a change
 * that rolled back, nor be missing for one that committed. Pure rules here;
 * the tables in src/store/*\/webhook-store.ts; HTTP in src/webhooks.
 */
import type { Channel } from './channels.js';
import { invalid } from './errors.js';
import { LEDGER_ACTIONS } from './ledger.js';

export type WebhookEventName = (typeof LEDGER_ACTIONS)[number];
export const WEBHOOK_EVENTS: readonly WebhookEventName[] = LEDGER_ACTIONS;

export interface Webhook {
  id: number;
  url: string;
  /** Ledger actions delivered; null: every one. */
  events: WebhookEventName[] | null;
  /** Channels delivered (an event on `all` goes to every channel's webhook); null: every one. */
  channels: Channel[] | null;
  allowHttp: boolean;
  allowPrivate: boolean;
  /** The last ledger event id fanned out. */
  cursor: number;
  createdAt: string;
  removedAt: string | null;
}

export interface NewWebhook {
  url: string;
  events: WebhookEventName[] | null;
  channels: Channel[] | null;
  secret: string;
  allowHttp: boolean;
  allowPrivate: boolean;
  /** Deliver every event already in the ledger too (default: only those after the current head). */
  fromStart: boolean;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: number;
  webhookId: number;
  eventId: number;
  profileId: number | null;
  /** The body's `id`: the same for every attempt of this delivery. */
  deliveryId: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string;
  lastStatus: number | null;
  lastError: string | null;
  periodStart: string;
  createdAt: string;
  deliveredAt: string | null;
}

/** A ledger event as fanned out and delivered. */
export interface OutboxEvent {
  id: number;
  profileId: number | null;
  channel: string;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  occurredAt: string;
}

/** A delivery claimed for sending: its event, its target, and the profile's email now (null when erased or none). */
export interface ClaimedDelivery {
  delivery: WebhookDelivery;
  event: OutboxEvent;
  url: string;
  secret: string;
  allowHttp: boolean;
  allowPrivate: boolean;
  email: string | null;
}

/** What became of one attempt. */
export type AttemptOutcome =
  | { kind: 'delivered'; at: string; status: number }
  | { kind: 'retry'; at: string; status: number | null; error: string; nextAttemptAt: string }
  | { kind: 'failed'; at: string; status: number | null; error: string };

export interface WebhookRepository {
  add(input: NewWebhook, at: string): Promise<Webhook>;
  /** The webhooks not removed, by id. */
  list(): Promise<Webhook[]>;
  /** A webhook (removed ones too) with its secret, for signing; null when there is none. */
  get(id: number): Promise<(Webhook & { secret: string }) | null>;
  /** Stops it: no new deliveries, its pending ones are no longer sent. `not-found` when there is none (or it is removed). */
  remove(id: number, at: string): Promise<Webhook>;
  /**
   * For each webhook not removed, in one transaction of its own (the webhook
   * row locked): the ledger events after its cursor (at most `batch`), those
   * it wants as new pending deliveries (due `at`), the cursor advanced past
   * every event read. Returns how many deliveries were made.
   */
  fanOut(at: string, batch?: number): Promise<number>;
  /**
   * Up to `limit` due deliveries (pending, next attempt not after `now`, no
   * lease in force, webhook not removed, and no earlier pending delivery of
   * the same webhook and profile), each leased until `leaseUntil`, so that no
   * other deliverer takes it meanwhile.
   */
  claim(now: string, leaseUntil: string, limit: number): Promise<ClaimedDelivery[]>;
  /** Records an attempt's outcome and lifts the lease. */
  complete(id: number, outcome: AttemptOutcome): Promise<void>;
  /** Deliveries given up on, oldest first. */
  failures(): Promise<WebhookDelivery[]>;
  /** A failed delivery (by row id or delivery id) pending again, due `at`, with a new 24-hour period; `not-found` / `conflict` (not failed). */
  retry(ref: string, at: string): Promise<WebhookDelivery>;
  /** Every delivery of a webhook, in event order (tests, `webhook list` counts). */
  deliveries(webhookId: number): Promise<WebhookDelivery[]>;
}

/** Whether a webhook wants this ledger event (its action, and its channel or `all`). */
export function wants(w: Pick<Webhook, 'events' | 'channels'>, e: Pick<OutboxEvent, 'action' | 'channel'>): boolean {
  if (w.events && !w.events.includes(e.action as WebhookEventName)) return false;
  if (w.channels && e.channel !== 'all' && !w.channels.includes(e.channel as Channel)) return false;
  return true;
}

/** The body's `type` of a ledger action. */
export function eventType(action: string): string {
  switch (action) {
    case 'optout':
    case 'optin':
    case 'reason':
      return `consent.${action}`;
    case 'subscribe':
    case 'request':
    case 'confirm':
    case 'unsubscribe':
      return `subscription.${action}`;
    case 'suppress':
    case 'unsuppress':
      return `suppression.${action}`;
    case 'erase':
      return 'profile.erase';
    case 'address':
      // A change of phone number (keys only in the ledger; the body carries none).
      return 'profile.address';
    case 'policy':
      return 'channel.policy';
    default:
      return `ledger.${action}`;
  }
}

/** The JSON body of a delivery (`id` the delivery's, the same on every attempt). */
export function deliveryBody(c: Pick<ClaimedDelivery, 'delivery' | 'event' | 'email'>): string {
  const e = c.event;
  return JSON.stringify({
    id: c.delivery.deliveryId,
    type: c.delivery.type,
    occurredAt: e.occurredAt,
    data: {
      eventId: e.id,
      profileId: e.profileId,
      email: c.email,
      channel: e.channel,
      service: e.service,
      action: e.action,
      source: e.source,
      actor: e.actor,
    },
  });
}

/** Parses `--events optout,optin` (ledger actions); a wrong one is a usage error listing them. */
export function parseWebhookEvents(raw: string): WebhookEventName[] {
  const list = [...new Set(raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
  if (list.length === 0) throw invalid('--events names no event.', `Events: ${WEBHOOK_EVENTS.join(', ')}.`);
  for (const e of list) {
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(e)) throw invalid(`--events: unknown event "${e}".`, `Events: ${WEBHOOK_EVENTS.join(', ')}.`);
  }
  return list as WebhookEventName[];
}

export interface RetryPolicy {
  /** The first retry comes about this long after the first failure (then doubling). */
  baseMs: number;
  /** No single wait longer than this. */
  maxDelayMs: number;
  /** Retries go on for at least this long after the delivery's first attempt (its period); an attempt that fails once the period is over fails the delivery. */
  giveUpAfterMs: number;
}

/** First retry within ~10 s (5–7.5 s), doubling, at most an hour apart, for 24 hours. */
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 5_000, maxDelayMs: 3_600_000, giveUpAfterMs: 24 * 3_600_000 };

/**
 * What follows a failed attempt: the next one after base·2^(n−1) (n = the
 * attempts made, this one included), capped, with up to +50% jitter so that
 * receivers coming back are not hit by every sender at once; or `failed`
 * when this attempt itself came at or after the period's end (so the
 * attempts span at least the whole period). `periodStart`: the time of the
 * delivery's first attempt (not its creation: a delivery held back behind
 * an earlier one of the same profile gets its whole period once it may go).
 */
export function afterFailure(
  policy: RetryPolicy,
  attempts: number,
  periodStart: string,
  at: string,
  status: number | null,
  error: string,
  random: () => number = Math.random,
): AttemptOutcome {
  const delay = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** Math.max(0, attempts - 1)) * (1 + 0.5 * random());
  const next = Date.parse(at) + Math.round(delay);
  if (Date.parse(at) - Date.parse(periodStart) >= policy.giveUpAfterMs) return { kind: 'failed', at, status, error };
  return { kind: 'retry', at, status, error, nextAttemptAt: new Date(next).toISOString() };
}
