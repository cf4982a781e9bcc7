import { isConsentError } from '../consent/errors.js';
import { ledgerEvents, type ConsentGroup, type ConsentGroupResult } from './submissions.js';

interface Waiting {
  group: ConsentGroup;
  resolve: (r: ConsentGroupResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit. Submissions that arrive together (in the same turn of the
 * event loop, or while the previous commit runs) are written in one
 * transaction, so many concurrent one-click POSTs pay one fsync instead of
 * one each. Each submission's promise settles only after its commit: an
 * answer sent on it means the change is durable.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;
  /**
   * Transactions committed, the submissions they carried, and the consent
   * changes (ledger events) those wrote: a submission that changes nothing
   * counts 0 changes, one that sets three flags counts 3.
   */
  readonly stats = { commits: 0, submissions: 0, changes: 0 };

  /**
   * `cadence` (optional): commits are then at least `minIntervalMs` apart
   * (start to start) while `othersInFlight()` says requests other than the
   * queued submissions are still being served, so that a campaign's few
   * POSTs among many GETs share one fsync instead of paying one each (a
   * commit blocks the event loop: better-sqlite3 is synchronous). When every
   * request in flight is a queued submission, nothing more can join: the
   * commit starts at once.
   */
  constructor(
    private readonly apply: (groups: readonly ConsentGroup[]) => Promise<ConsentGroupResult[]>,
    private readonly maxBatch = 500,
    private readonly cadence?: { minIntervalMs: number; othersInFlight: (queued: number) => boolean; clock: () => number },
  ) {}
  private lastStart = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  submit(group: ConsentGroup): Promise<ConsentGroupResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ group, resolve, reject });
      this.schedule();
    });
  }

  /**
   * A write that cannot join a batch (a static page's find-or-create, one
   * transaction of its own), run at once and counted in the same stats.
   */
  async commitAlone(write: () => Promise<ConsentGroupResult>): Promise<ConsentGroupResult> {
    const result = await write();
    this.count(1, [result]);
    return result;
  }

  private count(submissions: number, results: readonly ConsentGroupResult[]): void {
    this.stats.commits++;
    this.stats.submissions += submissions;
    for (const r of results) this.stats.changes += ledgerEvents(r);
  }

  /** Settles when everything submitted so far is committed (or failed). */
  async drain(): Promise<void> {
    if (this.timer && !this.running) this.start();
    while (this.queue.length > 0 || this.running || this.scheduled || this.timer) {
      await (this.running ?? new Promise((r) => setImmediate(r)));
    }
  }

  private schedule(): void {
    if (this.running) return;
    const c = this.cadence;
    const wait = c && this.queue.length < this.maxBatch && c.othersInFlight(this.queue.length) ? this.lastStart + c.minIntervalMs - c.clock() : 0;
    if (wait > 0) {
      // A later submission may find nothing else in flight: it reschedules at once (below).
      if (!this.timer && !this.scheduled) this.timer = setTimeout(() => this.start(), wait);
      return;
    }
    if (this.scheduled) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.scheduled = true;
    // setImmediate: after the poll phase, so every request already read in this turn joins the batch.
    setImmediate(() => this.start());
  }

  private start(): void {
    this.scheduled = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) return;
    if (this.cadence) this.lastStart = this.cadence.clock();
    this.running = this.flush().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    try {
      const results = await this.apply(batch.map((w) => w.group));
      this.count(batch.length, results);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      if (batch.length === 1 || isConsentError(e, 'busy')) {
        for (const w of batch) w.reject(e);
        return;
      }
      // One bad submission must not fail the others it happened to share a transaction with.
      for (const w of batch) {
        try {
          const [r] = await this.apply([w.group]);
          this.count(1, [r!]);
          w.resolve(r!);
        } catch (e2) {
          w.reject(e2);
        }
      }
    }
  }
}
