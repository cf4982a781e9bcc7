/**
 * What both stores' webhook repositories share (src/consent/webhooks.ts):
 * the row shapes and their conversion, and the SQL of the claim's rule,
 * written once with the placeholder style of each driver.
 */
import type { Channel } from '../../consent/channels.js';
import type { ClaimedDelivery, OutboxEvent, Webhook, WebhookDelivery, WebhookEventName } from '../../consent/webhooks.js';

/** The schema of migration 11 (frozen: a later change is a new migration), with each store's own types. */
export function webhooksDdl(t: { hookId: string; deliveryId: string; int: string; big: string }): string {
  return `
  CREATE TABLE webhooks (
    id ${t.hookId},
    url text NOT NULL,
    -- JSON arrays of ledger actions and channels; NULL: every one
    events text,
    channels text,
    -- In clear, as the link-signing keys are: the deliverer signs with it (a hash could not sign). Never printed after \`webhook add\`.
    secret text NOT NULL,
    allow_http ${t.int} NOT NULL DEFAULT 0,
    allow_private ${t.int} NOT NULL DEFAULT 0,
    -- The last ledger event id fanned out into webhook_deliveries (the ledger is the outbox)
    cursor ${t.big} NOT NULL,
    created_at text NOT NULL,
    removed_at text
  );
  CREATE TABLE webhook_deliveries (
    id ${t.deliveryId},
    webhook_id ${t.int} NOT NULL REFERENCES webhooks (id),
    -- A ledger event id (no foreign key: ledger_events is rebuilt by some SQLite migrations)
    event_id ${t.big} NOT NULL,
    profile_id ${t.int},
    -- The body's \`id\`, the same for every attempt of this delivery (receivers deduplicate on it)
    delivery_id text NOT NULL UNIQUE,
    type text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts ${t.int} NOT NULL DEFAULT 0,
    next_attempt_at text NOT NULL,
    lease_until text,
    last_status ${t.int},
    last_error text,
    -- When the current period of retries began (created, or \`webhook retry\`): given up 24 h after it
    period_start text NOT NULL,
    created_at text NOT NULL,
    delivered_at text,
    UNIQUE (webhook_id, event_id)
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, profile_id, event_id) WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (id) WHERE status = 'failed';
`;
}

export interface WebhookRow {
  id: number;
  url: string;
  events: string | null;
  channels: string | null;
  secret: string;
  allow_http: number;
  allow_private: number;
  cursor: number;
  created_at: string;
  removed_at: string | null;
}

export interface DeliveryRow {
  id: number;
  webhook_id: number;
  event_id: number;
  profile_id: number | null;
  delivery_id: string;
  type: string;
  status: WebhookDelivery['status'];
  attempts: number;
  next_attempt_at: string;
  lease_until: string | null;
  last_status: number | null;
  last_error: string | null;
  period_start: string;
  created_at: string;
  delivered_at: string | null;
}

/** A claimed delivery's row joined with its webhook, event and profile (CLAIMED_SQL). */
export interface ClaimedRow extends DeliveryRow {
  url: string;
  secret: string;
  allow_http: number;
  allow_private: number;
  e_channel: string;
  e_service: string | null;
  e_action: string;
  e_source: string;
  e_actor: string;
  e_occurred_at: string;
  p_email: string | null;
  p_erased_at: string | null;
}

export const WEBHOOK_COLUMNS = 'id, url, events, channels, allow_http, allow_private, cursor, created_at, removed_at';

export function toWebhook(r: Omit<WebhookRow, 'secret'>): Webhook {
  return {
    id: r.id,
    url: r.url,
    events: r.events === null ? null : (JSON.parse(r.events) as WebhookEventName[]),
    channels: r.channels === null ? null : (JSON.parse(r.channels) as Channel[]),
    allowHttp: r.allow_http === 1,
    allowPrivate: r.allow_private === 1,
    cursor: r.cursor,
    createdAt: r.created_at,
    removedAt: r.removed_at,
  };
}

export function toDelivery(r: DeliveryRow): WebhookDelivery {
  return {
    id: r.id,
    webhookId: r.webhook_id,
    eventId: r.event_id,
    profileId: r.profile_id,
    deliveryId: r.delivery_id,
    type: r.type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    periodStart: r.period_start,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

export function toClaimed(r: ClaimedRow): ClaimedDelivery {
  const event: OutboxEvent = {
    id: r.event_id,
    profileId: r.profile_id,
    channel: r.e_channel,
    service: r.e_service,
    action: r.e_action,
    source: r.e_source,
    actor: r.e_actor,
    occurredAt: r.e_occurred_at,
  };
  return {
    delivery: toDelivery(r),
    event,
    url: r.url,
    secret: r.secret,
    allowHttp: r.allow_http === 1,
    allowPrivate: r.allow_private === 1,
    // An erased profile's email is a placeholder: never sent.
    email: r.p_erased_at === null ? r.p_email : null,
  };
}

/** Ledger events after a cursor, in ledger order (fan-out). */
export const OUTBOX_EVENTS_SQL = (p: (i: number) => string) =>
  `SELECT id, profile_id AS "profileId", channel, service, action, source, actor, occurred_at AS "occurredAt"
   FROM ledger_events WHERE id > ${p(1)} ORDER BY id LIMIT ${p(2)}`;

export const INSERT_DELIVERY_SQL = (p: (i: number) => string) =>
  `INSERT INTO webhook_deliveries (webhook_id, event_id, profile_id, delivery_id, type, status, attempts, next_attempt_at, period_start, created_at)
   VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, 'pending', 0, ${p(6)}, ${p(6)}, ${p(6)})
   ON CONFLICT (webhook_id, event_id) DO NOTHING`;

/**
 * The due deliveries, in the order they fell due: pending, next attempt not
 * after now (p1), no lease in force, webhook not removed, and no earlier
 * (lower event id) pending delivery of the same webhook and profile: that
 * keeps one profile's deliveries in ledger order, and an earlier one failed
 * (given up) no longer holds the later ones back. `p(2)` is the limit.
 */
export const DUE_SQL = (p: (i: number) => string) =>
  `SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.removed_at IS NULL
   WHERE d.status = 'pending' AND d.next_attempt_at <= ${p(1)} AND (d.lease_until IS NULL OR d.lease_until <= ${p(1)})
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
       WHERE o.webhook_id = d.webhook_id AND o.profile_id = d.profile_id AND o.event_id < d.event_id AND o.status = 'pending')
   ORDER BY d.next_attempt_at, d.id LIMIT ${p(2)}`;

/** The claimed deliveries with what sending them needs (ids in p1, as the driver passes a list). */
export const CLAIMED_SQL = (ids: string) =>
  `SELECT d.*, w.url, w.secret, w.allow_http, w.allow_private,
     e.channel AS e_channel, e.service AS e_service, e.action AS e_action, e.source AS e_source, e.actor AS e_actor, e.occurred_at AS e_occurred_at,
     p.email AS p_email, p.erased_at AS p_erased_at
   FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN ledger_events e ON e.id = d.event_id
   LEFT JOIN profiles p ON p.id = d.profile_id
   WHERE d.id IN (${ids}) ORDER BY d.event_id`;
