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
  INSERT_DELIVERY_SQL,
  OUTBOX_EVENTS_SQL,
  toClaimed,
  toDelivery,
  toWebhook,
  WEBHOOK_COLUMNS,
  type ClaimedRow,
  type DeliveryRow,
  type WebhookRow,
} from '../shared/webhook-rows.js';
import type { SqliteStore } from './sqlite-store.js';

const q = () => '?';

/** The outbox on SQLite: a single writer, so a lease column (set under the write lock) is all a claim needs. */
export class SqliteWebhookRepository implements WebhookRepository {
  constructor(private readonly store: SqliteStore) {}

  private get db() {
    return this.store.db;
  }

  private head(): number {
    return (this.db.prepare('SELECT coalesce(max(id), 0) FROM ledger_events').pluck().get() as number) ?? 0;
  }

  async add(input: NewWebhook, at: string): Promise<Webhook> {
    return this.store.writeTransaction(() => {
      const cursor = input.fromStart ? 0 : this.head();
      const { lastInsertRowid } = this.db
        .prepare(
          `INSERT INTO webhooks (url, events, channels, secret, allow_http, allow_private, cursor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.url,
          input.events ? JSON.stringify(input.events) : null,
          input.channels ? JSON.stringify(input.channels) : null,
          input.secret,
          input.allowHttp ? 1 : 0,
          input.allowPrivate ? 1 : 0,
          cursor,
          at,
        );
      return toWebhook(this.db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?`).get(Number(lastInsertRowid))!);
    });
  }

  async list(): Promise<Webhook[]> {
    return this.store.read(() =>
      this.db.prepare<[], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE removed_at IS NULL ORDER BY id`).all().map(toWebhook),
    );
  }

  async get(id: number): Promise<(Webhook & { secret: string }) | null> {
    const r = this.store.read(() => this.db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS}, secret FROM webhooks WHERE id = ?`).get(id));
    return r ? { ...toWebhook(r), secret: r.secret } : null;
  }

  async remove(id: number, at: string): Promise<Webhook> {
    return this.store.writeTransaction(() => {
      const r = this.db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ? AND removed_at IS NULL`).get(id);
      if (!r) throw notFound(`No webhook ${id}.`, 'See `consent webhook list`.');
      this.db.prepare('UPDATE webhooks SET removed_at = ? WHERE id = ?').run(at, id);
      return toWebhook({ ...r, removed_at: at });
    });
  }

  async fanOut(at: string, batch = 1000): Promise<number> {
    let made = 0;
    const head = this.store.read(() => this.head());
    const behind = this.store.read(() =>
      this.db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE removed_at IS NULL AND cursor < ? ORDER BY id`).all(head),
    );
    const events = this.db.prepare<[number, number], OutboxEvent>(OUTBOX_EVENTS_SQL(q));
    const insert = this.db.prepare(INSERT_DELIVERY_SQL(q));
    for (const { id } of behind) {
      for (;;) {
        // One batch per write transaction: the write lock is never held long (a server takes requests meanwhile).
        const read = this.store.writeTransaction(() => {
          const w = this.db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ? AND removed_at IS NULL`).get(id);
          if (!w) return 0;
          const hook = toWebhook(w);
          const list = events.all(hook.cursor, batch);
          if (list.length === 0) return 0;
          for (const e of list) {
            if (!wants(hook, e)) continue;
            made += insert.run(hook.id, e.id, e.profileId, randomUUID(), eventType(e.action), at, at, at).changes;
          }
          this.db.prepare('UPDATE webhooks SET cursor = ? WHERE id = ?').run(list[list.length - 1]!.id, hook.id);
          return list.length;
        });
        if (read < batch) break;
      }
    }
    return made;
  }

  async claim(now: string, leaseUntil: string, limit: number): Promise<ClaimedDelivery[]> {
    const due = this.db.prepare<[string, string, number], { id: number }>(DUE_SQL(q));
    // A look first, outside the write lock: a deliverer finding nothing due (most seconds) never takes it.
    if (this.store.read(() => due.all(now, now, 1)).length === 0) return [];
    return this.store.writeTransaction(() => {
      const ids = due.all(now, now, limit).map((r) => r.id);
      if (ids.length === 0) return [];
      const list = ids.join(', ');
      this.db.prepare(`UPDATE webhook_deliveries SET lease_until = ? WHERE id IN (${list})`).run(leaseUntil);
      return this.db.prepare<[], ClaimedRow>(CLAIMED_SQL(list)).all().map(toClaimed);
    });
  }

  async complete(id: number, o: AttemptOutcome): Promise<void> {
    this.store.writeTransaction(() => {
      const status = o.kind === 'delivered' ? 'delivered' : o.kind === 'failed' ? 'failed' : 'pending';
      this.db
        .prepare(
          `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, lease_until = NULL, last_status = ?, last_error = ?,
             next_attempt_at = coalesce(?, next_attempt_at), delivered_at = ?,
             period_start = CASE WHEN attempts = 0 THEN ? ELSE period_start END WHERE id = ?`,
        )
        .run(status, o.status, o.kind === 'delivered' ? null : o.error, o.kind === 'retry' ? o.nextAttemptAt : null, o.kind === 'delivered' ? o.at : null, o.at, id);
    });
  }

  async failures(): Promise<WebhookDelivery[]> {
    return this.store.read(() => this.db.prepare<[], DeliveryRow>(`SELECT * FROM webhook_deliveries WHERE status = 'failed' ORDER BY id`).all().map(toDelivery));
  }

  async retry(ref: string, at: string): Promise<WebhookDelivery> {
    return this.store.writeTransaction(() => {
      const r = /^\d+$/.test(ref)
        ? this.db.prepare<[number], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?').get(Number(ref))
        : this.db.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE delivery_id = ?').get(ref);
      if (!r) throw notFound(`No webhook delivery ${ref}.`, 'See `consent webhook failures`.');
      if (r.status !== 'failed') throw conflict(`Delivery ${ref} is ${r.status}, not failed: there is nothing to retry.`);
      this.db
        .prepare(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, period_start = ?, lease_until = NULL WHERE id = ?`)
        .run(at, at, r.id);
      return toDelivery(this.db.prepare<[number], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?').get(r.id)!);
    });
  }

  async deliveries(webhookId: number): Promise<WebhookDelivery[]> {
    return this.store.read(() =>
      this.db.prepare<[number], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY event_id').all(webhookId).map(toDelivery),
    );
  }
}
