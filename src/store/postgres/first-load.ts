/*
 * A first load on PostgreSQL: an import from a file into a store with no
 * profile, written straight into `profiles` while the parser thread reads on
 * (the SQLite store's direct first load, done the PostgreSQL way). The
 * import's one transaction is opened when the header is read and holds, to
 * its commit or rollback, an ACCESS EXCLUSIVE lock on profiles, ledger_events
 * and subscriptions and the chain lock: readers and writers of the (empty)
 * store wait for it; a kill of the client or of the server at any moment
 * rolls all of it back.
 *
 * While the file is read, the rows stream into `profiles` by one
 * `COPY … FROM STDIN` (ids given here, in file order, after the id the
 * sequence hands out), with the email index dropped; the canonical text of
 * their opt-out events (one per flag set, in profile id then channel order,
 * ids after the chain's last event) is hashed into the block as they are
 * sent. At the end: the email index is built in one sort (a file that
 * repeats an email fails it: the rows then go back to staging and the usual
 * plan folds them, in the same transaction); the events are sent by a second
 * COPY from the set masks kept while loading (a byte a row), in the same order
 * (their count checked against the hashed ones), with the ledger's primary key,
 * its foreign keys, the two indexes they fall in and the other indexes of
 * profiles dropped and made again after the rows (one sort each, one join,
 * instead of a descent and a check per row); the block is appended. What all
 * rows share (times, source, actor…) is sent as the columns' defaults.
 * Measured, the staged path spent most of a million-row load planning,
 * re-sorting and copying the staged rows; see the README's PostgreSQL speed section.
 */
import type pg from 'pg';
import { STAGED_WIDTH, type StagedBatch } from '../../consent/bulk.js';
import { CHANNELS } from '../../consent/channels.js';
import { ConsentError } from '../../consent/errors.js';
import { BlockHasher, canonicalEvent, GENESIS_HASH, type ChangeContext } from '../../consent/ledger.js';
import { ALL_BITS, currentMaskSql } from '../shared/import-rules.js';
import { copyText, CopyIn } from './copy-in.js';
import { dropForRebuild, type Query } from './load-ddl.js';
import { CHAIN_LOCK } from './pg-store.js';

const C = CHANNELS;
/** The ledger's indexes that the load's events fall in (the others are partial indexes they are not in): made again after the rows. */
const LEDGER_INDEXES = ['ledger_events_profile', 'ledger_events_changes'];
/** Dropped and rebuilt by a first load, exactly as migration 1 made it. */
export const PROFILES_EMAIL_INDEX = 'CREATE UNIQUE INDEX profiles_email ON profiles (email)';
/** The first load's columns of profiles (their times are the columns' defaults during the load). */
const PROFILE_COLUMNS = `id, email, phone, first_name, last_name, ${C.map((c) => `optout_${c}`).join(', ')}`;

/** The number of set bits of each byte. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let m = b; m !== 0; m >>= 1) n += m & 1;
  return n;
});


/**
 * Sets the given columns' defaults to the given constants (null: no
 * default) and returns the statements that set them back as they were.
 */
async function constantDefaults(client: pg.PoolClient, q: Query, table: string, values: Record<string, string | null>): Promise<string[]> {
  const columns = Object.keys(values);
  const had = await q<{ name: string; def: string | null }>(
    `SELECT a.attname AS name, pg_get_expr(d.adbin, d.adrelid) AS def
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = ANY($2) AND NOT a.attisdropped`,
    [table, columns],
  );
  if (had.length !== columns.length) throw new ConsentError('integrity', `${table} lacks one of the columns ${columns.join(', ')}.`);
  const set = (name: string, def: string | null) => `ALTER COLUMN ${client.escapeIdentifier(name)} ${def === null ? 'DROP DEFAULT' : `SET DEFAULT ${def}`}`;
  await q(`ALTER TABLE ${table} ${columns.map((c) => set(c, values[c] === null ? null : client.escapeLiteral(values[c]!))).join(', ')}`);
  return [`ALTER TABLE ${table} ${had.map((h) => set(h.name, h.def)).join(', ')}`];
}

export interface FirstLoadResult {
  profiles: number;
  events: number;
}

export class PgFirstLoad {
  private rows = 0;
  private events = 0;
  private copy: CopyIn | null = null;
  /** Each loaded row's set mask, in file (= id) order: finish() writes their events from it (one byte a row). */
  private masks = new Uint8Array(1 << 16);
  private readonly hasher: BlockHasher;
  /** canonicalEvent of an opt-out of each channel, after its id and profile id: the same for every event of the import. */
  private readonly after: string[];
  private readonly params: { source: string; actor: string; reason: string | null; evidence: string | null; at: string };

  private constructor(
    private readonly client: pg.PoolClient,
    private readonly q: Query,
    context: ChangeContext,
    private readonly firstId: number,
    private readonly head: { id: number; hash: string; lastEventId: number },
    private readonly rebuild: string[],
  ) {
    this.hasher = new BlockHasher(head.hash);
    const p = (this.params = {
      source: context.source,
      actor: context.actor,
      reason: context.reason ?? null,
      evidence: context.evidence ? JSON.stringify(context.evidence) : null,
      at: context.occurredAt,
    });
    this.after = C.map((channel) =>
      canonicalEvent({ id: 0, profileId: 0, channel, action: 'optout', source: p.source, actor: p.actor, reason: p.reason, evidenceJson: p.evidence, occurredAt: p.at }).slice('[0,0'.length),
    );
  }

  /**
   * Opens the import's transaction (`begin`: its opening statement) and
   * prepares the load; null (the transaction rolled back, nothing held) when
   * the store has a profile.
   */
  static async begin(client: pg.PoolClient, q: Query, context: ChangeContext, begin: string): Promise<PgFirstLoad | null> {
    const empty = async () => (await q('SELECT 1 FROM profiles LIMIT 1')).length === 0;
    await q(begin);
    try {
      if (!(await empty())) {
        await q('ROLLBACK');
        return null;
      }
      // The chain lock before the tables' lock, in the order of every other ledger writer (chain, then the
      // tables its insert touches): the other order deadlocks with a concurrent `policy set` or `suppression add`.
      await q('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      await q('LOCK TABLE profiles, ledger_events, subscriptions, ledger_user_agents IN ACCESS EXCLUSIVE MODE');
      // No profile, so no profile event and no subscription (the ledger may hold store-level and address events).
      if (!(await empty())) {
        await q('ROLLBACK');
        return null;
      }
      const [head] = await q<{ id: string; hash: string; last_event_id: string }>('SELECT id, hash, last_event_id FROM ledger_blocks ORDER BY id DESC LIMIT 1');
      const [seq] = await q<{ first: string }>(`SELECT nextval(pg_get_serial_sequence('profiles', 'id')) AS first`);
      await q('DROP INDEX profiles_email');
      // The ledger's foreign key to profiles and the indexes the events fall in, made again after the rows exactly as they were.
      // And the other indexes of profiles (migration 14's consent-state and phone indexes, as the SQLite
      // store's first load does): kept up to date row by row they made the COPY of a million rows take
      // PostgreSQL 8.7 s instead of 3.3 s, against 2.5 s to build them after the rows.
      // And the ledger's primary key, with the foreign keys to it (ledger_user_agents'): kept up to date
      // row by row it doubled the server's time for the events' COPY (2.1 s against 0.9 s at 1.26M events,
      // 0.5 s to build it after them).
      const rebuild = await dropForRebuild(
        q,
        {
          indexes: `i.indexrelid IN (SELECT to_regclass(n) FROM unnest($1::text[]) AS n)
             OR (i.indrelid = 'profiles'::regclass AND ic.relname <> 'profiles_email'
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid))`,
          constraints: `(k.conrelid = 'ledger_events'::regclass AND k.contype = 'f' AND k.confrelid = 'profiles'::regclass)
             OR (k.contype = 'f' AND k.confrelid = 'ledger_events'::regclass)
             OR (k.conrelid = 'ledger_events'::regclass AND k.contype = 'p')`,
          indexParams: [LEDGER_INDEXES],
        },
      );
      // What every row of the load has in common, as the columns' defaults for its two COPYs (set back after the
      // rows): the server then parses one id, a profile id and a channel per event instead of ten fields, and
      // no time for a profile.
      const restore = [
        ...(await constantDefaults(client, q, 'profiles', { created_at: context.occurredAt, updated_at: context.occurredAt })),
        ...(await constantDefaults(client, q, 'ledger_events', {
          action: 'optout',
          source: context.source,
          actor: context.actor,
          reason: context.reason ?? null,
          evidence: context.evidence ? JSON.stringify(context.evidence) : null,
          occurred_at: context.occurredAt,
        })),
      ];
      return new PgFirstLoad(
        client,
        q,
        context,
        Number(seq!.first),
        { id: Number(head?.id ?? 0), hash: head?.hash ?? GENESIS_HASH, lastEventId: Number(head?.last_event_id ?? 0) },
        [...restore, ...rebuild],
      );
    } catch (e) {
      await q('ROLLBACK').catch(() => {});
      throw e;
    }
  }

  /** A batch of staged rows: sent to the COPY (backpressure awaited), their opt-out events hashed. */
  async load(batch: StagedBatch): Promise<void> {
    this.copy ??= new CopyIn(this.client, `COPY profiles (${PROFILE_COLUMNS}) FROM STDIN`);
    const v = batch.values;
    const after = this.after;
    const lines: string[] = [];
    let text = '';
    let n = 0;
    for (let r = 0; r < batch.rows; r++) {
      const o = r * STAGED_WIDTH;
      const id = this.firstId + this.rows++;
      // Nothing to clear in a new profile: its flags are the set mask's.
      const set = (v[o + 4] as number) & ALL_BITS;
      if (this.rows > this.masks.length) {
        const grown = new Uint8Array(this.masks.length * 2);
        grown.set(this.masks);
        this.masks = grown;
      }
      this.masks[this.rows - 1] = set;
      let flags = '';
      for (let k = 0; k < C.length; k++) flags += (set >> k) & 1 ? '\t1' : '\t0';
      lines.push(`${id}\t${copyText(v[o]!)}\t${copyText(v[o + 1]!)}\t${copyText(v[o + 2]!)}\t${copyText(v[o + 3]!)}${flags}\n`);
      // Its events, as finish() makes them: one per flag set, in channel order, numbered after the chain's last.
      for (let m = set, k = 0; m !== 0; m >>= 1, k++) {
        if ((m & 1) === 0) continue;
        text += (n++ === 0 ? '[' : '\n[') + (this.head.lastEventId + ++this.events) + ',' + id + after[k];
      }
    }
    this.hasher.addJoined(text, n);
    await this.copy.write(lines.join(''));
  }

  /** Never finished: the COPY abandoned (the connection is then unusable: closed by the caller). */
  abandon(): boolean {
    if (!this.copy) return false;
    this.copy.destroy();
    this.copy = null;
    return true;
  }

  /**
   * Ends the COPY, then builds the email index. False when the file repeats
   * an email: the index is not built; the loaded rows are moved (in file
   * order) to `staging`, `profiles` is emptied again and the ledger's indexes
   * and key are back, for the usual grouped plan in the same transaction.
   */
  async index(staging: string): Promise<boolean> {
    if (this.copy) {
      const copy = this.copy;
      this.copy = null;
      await copy.end();
    }
    await this.q('SAVEPOINT first_load_index');
    try {
      await this.q(PROFILES_EMAIL_INDEX);
      await this.q('RELEASE SAVEPOINT first_load_index');
      return true;
    } catch (e) {
      if ((e as { code?: string }).code !== '23505') throw e;
      await this.q('ROLLBACK TO SAVEPOINT first_load_index');
    }
    await this.q(
      `INSERT INTO ${staging} (email, phone, first_name, last_name, setm, clearm)
       SELECT email, phone, first_name, last_name, ${currentMaskSql('p')}, 0 FROM profiles p ORDER BY id`,
    );
    await this.q('DELETE FROM profiles');
    await this.q(`SELECT setval(pg_get_serial_sequence('profiles', 'id'), $1, false)`, [this.firstId]);
    await this.q(PROFILES_EMAIL_INDEX);
    for (const sql of this.rebuild) await this.q(sql);
    return false;
  }

  /** After index(): the sequence moved past the loaded ids, the events written and sealed into one block. */
  async finish(mark: (phase: string) => void): Promise<FirstLoadResult> {
    if (this.rows > 0) await this.q(`SELECT setval(pg_get_serial_sequence('profiles', 'id'), $1)`, [this.firstId + this.rows - 1]);
    else await this.q(`SELECT setval(pg_get_serial_sequence('profiles', 'id'), $1, false)`, [this.firstId]);
    const p = this.params;
    // ledger_events_grant (migration 9) is not fired: these are opt-outs of new profiles, whose grants
    // are 0 and stay 0 (it would group every event to rewrite no row).
    // The events by one COPY, from the masks kept while loading: measured, about half the time of making
    // them in SQL from the loaded flags (a scan, a cross join and a window sort of the pairs). Their ids are
    // those they were hashed with (profile id, then channel), but they are sent channel by channel, in the
    // order the database sorts the channels' names: the rows then lie in the order of ledger_events_changes
    // (every event of the load has the same time, action and source), whose build after them finds its
    // input sorted (3.3 s -> 1.1 s at 1.26M events). Read by id, the load's events are then one run per
    // channel, each in id order.
    // (Disabled inside the import's transaction: a failure rolls the change back with the rest.)
    await this.q('ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_grant');
    const order = (await this.q<{ c: string }>('SELECT c FROM unnest($1::text[]) AS c ORDER BY c', [C])).map((r) => C.indexOf(r.c as (typeof C)[number]));
    // Only the id, the profile and the channel: the rest are the columns' defaults during the load.
    const copy = new CopyIn(this.client, 'COPY ledger_events (id, profile_id, channel) FROM STDIN');
    let text = '';
    for (const k of order) {
      const tail = `\t${C[k]}\n`;
      const bit = 1 << k;
      const below = bit - 1;
      // The events before this row's: a running count of the set bits of the rows before it.
      let before = this.head.lastEventId;
      for (let r = 0; r < this.rows; r++) {
        const m = this.masks[r]!;
        if (m & bit) {
          text += before + POPCOUNT[m & below]! + 1 + '\t' + (this.firstId + r) + tail;
          if (text.length >= 1 << 16) {
            await copy.write(text);
            text = '';
          }
        }
        before += POPCOUNT[m]!;
      }
    }
    const written = await copy.end(text);
    await this.q('ALTER TABLE ledger_events ENABLE TRIGGER ledger_events_grant');
    mark('insert ledger events');
    if (written !== this.events || this.hasher.size !== this.events) {
      throw new ConsentError('integrity', `${written} first-load events written, ${this.hasher.size} hashed; nothing was written.`);
    }
    for (const sql of this.rebuild) await this.q(sql);
    mark('indexes and foreign key');
    if (this.events > 0) {
      await this.q(
        `INSERT INTO ledger_blocks (id, first_event_id, last_event_id, event_count, prev_hash, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [this.head.id + 1, this.head.lastEventId + 1, this.head.lastEventId + this.events, this.events, this.head.hash, this.hasher.digest(), p.at],
      );
    }
    return { profiles: this.rows, events: this.events };
  }
}
