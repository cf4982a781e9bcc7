/**
 * The deliverer: fans the ledger out into deliveries, claims those due
 * (leased, so that no other deliverer sends them meanwhile), posts them and
 * records each outcome. `landing serve` runs it in the background on a
 * timer; `consent webhook deliver` runs it alone. Its store calls are one at
 * a time: at most one connection of a PostgreSQL pool, none of a request's.
 */
import { invalid } from '../consent/errors.js';
import type { ConsentStore } from '../consent/store.js';
import { afterFailure, deliveryBody, DEFAULT_RETRY, type ClaimedDelivery, type RetryPolicy } from '../consent/webhooks.js';
import { DEFAULT_TIMEOUT_MS, send } from './send.js';
import type { Lookup } from './target.js';

export interface WebhookSettings {
  retry: RetryPolicy;
  /** How long a claimed delivery is kept from other deliverers (a deliverer killed mid-delivery: it is sent again after this). */
  leaseMs: number;
  timeoutMs: number;
  /** How often the ledger is looked at when nothing is due. */
  pollMs: number;
  /** Deliveries sent at once (one per profile at most, by the claim's rule). */
  concurrency: number;
}

function envMs(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw invalid(`${name} must be a whole number of milliseconds above 0, not "${raw}".`);
  return n;
}

/**
 * The defaults (first retry after 5–7.5 s, doubling up to an hour apart,
 * given up after 24 h; 5 s timeout; 60 s lease; a look every second) and
 * the testing knobs that change them: CONSENT_WEBHOOK_BACKOFF_MS,
 * CONSENT_WEBHOOK_GIVE_UP_MS, CONSENT_WEBHOOK_LEASE_MS,
 * CONSENT_WEBHOOK_TIMEOUT_MS, CONSENT_WEBHOOK_POLL_MS.
 */
export function webhookSettings(env: Record<string, string | undefined>): WebhookSettings {
  const baseMs = envMs(env, 'CONSENT_WEBHOOK_BACKOFF_MS', DEFAULT_RETRY.baseMs);
  return {
    retry: {
      baseMs,
      maxDelayMs: Math.max(baseMs, DEFAULT_RETRY.maxDelayMs),
      giveUpAfterMs: envMs(env, 'CONSENT_WEBHOOK_GIVE_UP_MS', DEFAULT_RETRY.giveUpAfterMs),
    },
    leaseMs: envMs(env, 'CONSENT_WEBHOOK_LEASE_MS', 60_000),
    timeoutMs: envMs(env, 'CONSENT_WEBHOOK_TIMEOUT_MS', DEFAULT_TIMEOUT_MS),
    pollMs: envMs(env, 'CONSENT_WEBHOOK_POLL_MS', 1_000),
    concurrency: 8,
  };
}

export interface DelivererOptions {
  store: ConsentStore;
  now: () => Date;
  settings: WebhookSettings;
  /** One line per attempt (stderr). Never a secret, never an address. */
  log?: (line: string) => void;
  lookup?: Lookup;
}

export interface PassResult {
  fannedOut: number;
  delivered: number;
  retrying: number;
  failed: number;
}

export class Deliverer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(private readonly o: DelivererOptions) {}

  private iso(offsetMs = 0): string {
    return new Date(this.o.now().getTime() + offsetMs).toISOString();
  }

  private async attempt(c: ClaimedDelivery): Promise<'delivered' | 'retry' | 'failed'> {
    const body = deliveryBody(c);
    const r = await send({
      url: c.url,
      secret: c.secret,
      body,
      rules: { allowHttp: c.allowHttp, allowPrivate: c.allowPrivate },
      unixSeconds: Math.floor(this.o.now().getTime() / 1000),
      timeoutMs: this.o.settings.timeoutMs,
      lookup: this.o.lookup,
      headers: { 'consent-delivery': c.delivery.deliveryId },
    });
    const at = this.iso();
    const d = c.delivery;
    const outcome = r.ok
      ? ({ kind: 'delivered', at, status: r.status } as const)
      : // The period starts at the first attempt (complete() records it then).
        afterFailure(this.o.settings.retry, d.attempts + 1, d.attempts === 0 ? at : d.periodStart, at, r.status, r.error);
    await this.o.store.webhooks.complete(d.id, outcome);
    const what = outcome.kind === 'delivered' ? `delivered (${r.status})` : outcome.kind === 'retry' ? `${outcome.error}; retry at ${outcome.nextAttemptAt}` : `${outcome.error}; failed, given up`;
    this.o.log?.(`webhook ${d.webhookId} delivery ${d.deliveryId} (event ${d.eventId}, attempt ${d.attempts + 1}): ${what}`);
    return outcome.kind;
  }

  /** Fans out, then sends every delivery due now (those that fall due later are left for a later pass). */
  async pass(): Promise<PassResult> {
    const result: PassResult = { fannedOut: 0, delivered: 0, retrying: 0, failed: 0 };
    result.fannedOut = await this.o.store.webhooks.fanOut(this.iso());
    while (!this.stopped) {
      const claimed = await this.o.store.webhooks.claim(this.iso(), this.iso(this.o.settings.leaseMs), this.o.settings.concurrency);
      if (claimed.length === 0) break;
      for (const kind of await Promise.all(claimed.map((c) => this.attempt(c)))) {
        if (kind === 'delivered') result.delivered++;
        else if (kind === 'retry') result.retrying++;
        else result.failed++;
      }
    }
    return result;
  }

  /** Runs passes every pollMs until stop(); an error (store unavailable) is logged and the next pass tries again. */
  start(): void {
    const tick = () => {
      this.timer = null;
      if (this.stopped) return;
      this.running = this.pass()
        .catch((e) => this.o.log?.(`webhooks: ${e instanceof Error ? e.message : String(e)} (retrying)`))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.o.settings.pollMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** No new pass; the one running finishes its deliveries in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
