import { randomUUID } from 'node:crypto';
import { conflict, notFound } from '../../consent/errors.js';
import {
  eventType,
  wants,
  type AttemptOutcome,
  type ClaimedDelivery,
  type NewWebhook,
  type OutboxEvent,
  type Webhook,
  type WebhookDelivery,
  type WebhookRepository,
} from '../../consent/webhooks.js';
import {
  CLAIMED_SQL,
  DUE_SQL,
  OUTBOX_EVENTS_SQL,
  toClaimed,
  toDelivery,
  toWebhook,
  WEBHOOK_COLUMNS,
  type ClaimedRow,
  type DeliveryRow,
  type WebhookRow,
} from '../shared/webhook-rows.js';
import type { PgStore } from './pg-store.js';

const p = (i: number) => `$${i}`;

/**
 * The outbox on PostgreSQL, shared by every server on the database: fan-out
 * locks the webhook row (FOR UPDATE), so two servers never fan out the same
 * events twice; a claim takes due rows FOR UPDATE SKIP LOCKED and leases
 * them, so two servers never send one delivery at the same time, and a
 * server that dies leaves a lease that runs out (at-least-once).
 */
export class PgWebhookRepository implements WebhookRepository {
  constructor(private readonly store: PgStore) {}

  async add(input: NewWebhook, at: string): Promise<Webhook> {
    return this.store.transaction(async (tx) => {
      // The head under the chain's order: an event committed before this is not delivered (unless --from-start).
      const [{ head }] = (await tx.query<{ head: number }>('SELECT coalesce(max(id), 0) AS head FROM ledger_events')) as [{ head: number }];
      const rows = await tx.query<WebhookRow>(
        `INSERT INTO webhooks (url, events, channels, secret, allow_http, allow_private, cursor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${WEBHOOK_COLUMNS}`,
        [
          input.url,
          input.events ? JSON.stringify(input.events) : null,
          input.channels ? JSON.stringify(input.channels) : null,
          input.secret,
          input.allowHttp ? 1 : 0,
          input.allowPrivate ? 1 : 0,
          input.fromStart ? 0 : head,
          at,
        ],
      );
      return toWebhook(rows[0]!);
    });
  }

  async list(): Promise<Webhook[]> {
    return (await this.store.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE removed_at IS NULL ORDER BY id`)).map(toWebhook);
  }

  async get(id: number): Promise<(Webhook & { secret: string }) | null> {
    if (!Number.isSafeInteger(id)) return null;
    const [r] = await this.store.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS}, secret FROM webhooks WHERE id = $1`, [id]);
    return r ? { ...toWebhook(r), secret: r.secret } : null;
  }

  async remove(id: number, at: string): Promise<Webhook> {
    const [r] = Number.isSafeInteger(id)
      ? await this.store.query<WebhookRow>(`UPDATE webhooks SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL RETURNING ${WEBHOOK_COLUMNS}`, [id, at])
      : [];
    if (!r) throw notFound(`No webhook ${id}.`, 'See `consent webhook list`.');
    return toWebhook(r);
  }

  async fanOut(at: string, batch = 1000): Promise<number> {
    let made = 0;
    const [{ head }] = (await this.store.query<{ head: number }>('SELECT coalesce(max(id), 0) AS head FROM ledger_events')) as [{ head: number }];
    const behind = await this.store.query<{ id: number }>('SELECT id FROM webhooks WHERE removed_at IS NULL AND cursor < $1 ORDER BY id', [head]);
    for (const { id } of behind) {
      for (;;) {
        const { read, inserted } = await this.store.transaction(async (tx) => {
          // Another server fanning out this webhook waits here, then reads the cursor this one left.
          const [w] = await tx.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND removed_at IS NULL FOR UPDATE`, [id]);
          if (!w) return { read: 0, inserted: 0 };
          const hook = toWebhook(w);
          const list = await tx.query<OutboxEvent>(OUTBOX_EVENTS_SQL(p), [hook.cursor, batch]);
          if (list.length === 0) return { read: 0, inserted: 0 };
          const wanted = list.filter((e) => wants(hook, e));
          let n = 0;
          if (wanted.length > 0) {
            const r = await tx.client.query(
              `INSERT INTO webhook_deliveries (webhook_id, event_id, profile_id, delivery_id, type, status, attempts, next_attempt_at, period_start, created_at)
               SELECT $1, u.event_id, u.profile_id, u.delivery_id, u.type, 'pending', 0, $2, $2, $2
               FROM unnest($3::bigint[], $4::integer[], $5::text[], $6::text[]) AS u (event_id, profile_id, delivery_id, type)
               ON CONFLICT (webhook_id, event_id) DO NOTHING`,
              [hook.id, at, wanted.map((e) => e.id), wanted.map((e) => e.profileId), wanted.map(() => randomUUID()), wanted.map((e) => eventType(e.action))],
            );
            n = r.rowCount ?? 0;
          }
          await tx.query('UPDATE webhooks SET cursor = $1 WHERE id = $2', [list[list.length - 1]!.id, hook.id]);
          return { read: list.length, inserted: n };
        });
        made += inserted;
        if (read < batch) break;
      }
    }
    return made;
  }

  async claim(now: string, leaseUntil: string, limit: number): Promise<ClaimedDelivery[]> {
    const leased = await this.store.query<{ id: number }>(
      `WITH due AS (${DUE_SQL(p)} FOR UPDATE OF d SKIP LOCKED)
       UPDATE webhook_deliveries d SET lease_until = $3 FROM due WHERE d.id = due.id
         AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until <= $1) RETURNING d.id`,
      [now, limit, leaseUntil],
    );
    if (leased.length === 0) return [];
    return (await this.store.query<ClaimedRow>(CLAIMED_SQL(leased.map((r) => Number(r.id)).join(', ')))).map(toClaimed);
  }

  async complete(id: number, o: AttemptOutcome): Promise<void> {
    const status = o.kind === 'delivered' ? 'delivered' : o.kind === 'failed' ? 'failed' : 'pending';
    await this.store.query(
      `UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, lease_until = NULL, last_status = $2, last_error = $3,
         next_attempt_at = coalesce($4, next_attempt_at), delivered_at = $5,
         period_start = CASE WHEN attempts = 0 THEN $7 ELSE period_start END WHERE id = $6`,
      [status, o.status, o.kind === 'delivered' ? null : o.error, o.kind === 'retry' ? o.nextAttemptAt : null, o.kind === 'delivered' ? o.at : null, id, o.at],
    );
  }

  async failures(): Promise<WebhookDelivery[]> {
    return (await this.store.query<DeliveryRow>(`SELECT * FROM webhook_deliveries WHERE status = 'failed' ORDER BY id`)).map(toDelivery);
  }

  async retry(ref: string, at: string): Promise<WebhookDelivery> {
    return this.store.transaction(async (tx) => {
      const [r] = /^\d{1,15}$/.test(ref)
        ? await tx.query<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = $1 FOR UPDATE', [Number(ref)])
        : await tx.query<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE delivery_id = $1 FOR UPDATE', [ref]);
      if (!r) throw notFound(`No webhook delivery ${ref}.`, 'See `consent webhook failures`.');
      if (r.status !== 'failed') throw conflict(`Delivery ${ref} is ${r.status}, not failed: there is nothing to retry.`);
      const [u] = await tx.query<DeliveryRow>(
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, period_start = $1, lease_until = NULL WHERE id = $2 RETURNING *`,
        [at, r.id],
      );
      return toDelivery(u!);
    });
  }

  async deliveries(webhookId: number): Promise<WebhookDelivery[]> {
    return (await this.store.query<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY event_id', [webhookId])).map(toDelivery);
  }
}
