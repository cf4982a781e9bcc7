/**
 * Raw rows of a store, for `store copy`: what both stores share so that a
 * copy between them is verbatim (ids, times, hashes as stored). Copying is a
 * store concern: the domain (src/consent) knows nothing of it.
 */
import { CHANNELS, CONTACT_CHANNELS } from '../consent/channels.js';
import type { LedgerVerification } from '../consent/ledger.js';
import type { LandingStore } from '../landing/repository.js';
import { SMS_MESSAGE_COLUMNS } from './shared/sms-rows.js';

export interface StoreTable {
  name: string;
  /** Every column, in the order a RawBatch's rows give them. */
  columns: readonly string[];
  /** The ORDER BY of an export: a unique key, so that both stores give the same order. */
  order: string;
}

/**
 * Every table of a store (both schemas hold exactly these), parents before
 * children, so that rows inserted in this order satisfy every foreign key.
 * test/store-copy.test.ts checks that both schemas have these tables and columns.
 */
export const STORE_TABLES: readonly StoreTable[] = [
  { name: 'settings', columns: ['key', 'value'], order: 'key' },
  {
    name: 'profiles',
    columns: ['id', 'email', 'phone', 'first_name', 'last_name', ...CHANNELS.map((c) => `optout_${c}`), 'created_at', 'updated_at', 'erased_at', ...CONTACT_CHANNELS.map((c) => `granted_${c}`)],
    order: 'id',
  },
  { name: 'services', columns: ['id', 'name', 'label', 'description', 'channel', 'double_opt_in', 'created_at'], order: 'id' },
  { name: 'subscriptions', columns: ['profile_id', 'service_id', 'status', 'since'], order: 'profile_id, service_id' },
  { name: 'landing_pages', columns: ['slug', 'draft', 'created_at', 'updated_at'], order: 'slug' },
  { name: 'landing_page_versions', columns: ['slug', 'version', 'definition', 'published_at', 'published_by'], order: 'slug, version' },
  { name: 'signing_keys', columns: ['id', 'secret', 'created_at', 'retired_at'], order: 'id' },
  { name: 'suppressions', columns: ['id', 'channel', 'address', 'address_key', 'reason', 'origin', 'note', 'created_at', 'expires_at'], order: 'id' },
  {
    name: 'ledger_events',
    columns: ['id', 'profile_id', 'channel', 'service', 'action', 'source', 'actor', 'reason', 'evidence', 'occurred_at', 'address_key'],
    order: 'id',
  },
  { name: 'ledger_user_agents', columns: ['event_id', 'salt', 'user_agent'], order: 'event_id' },
  { name: 'ledger_blocks', columns: ['id', 'first_event_id', 'last_event_id', 'event_count', 'prev_hash', 'hash', 'created_at'], order: 'id' },
  { name: 'feedback_reports', columns: ['report_key', 'kind', 'file', 'reported_at', 'ingested_at'], order: 'report_key' },
  { name: 'soft_bounces', columns: ['address_key', 'report_key', 'bounced_at'], order: 'address_key, report_key' },
  { name: 'sms_messages', columns: SMS_MESSAGE_COLUMNS, order: 'id' },
  { name: 'api_keys', columns: ['id', 'name', 'key_hash', 'created_at', 'revoked_at'], order: 'id' },
  { name: 'webhooks', columns: ['id', 'url', 'events', 'channels', 'secret', 'allow_http', 'allow_private', 'cursor', 'created_at', 'removed_at'], order: 'id' },
  {
    name: 'webhook_deliveries',
    columns: ['id', 'webhook_id', 'event_id', 'profile_id', 'delivery_id', 'type', 'status', 'attempts', 'next_attempt_at', 'lease_until', 'last_status', 'last_error', 'period_start', 'created_at', 'delivered_at'],
    order: 'id',
  },
  {
    name: 'brand_versions',
    columns: ['version', 'name', 'logo_type', 'logo_base64', 'color', 'privacy_url', 'contact', 'address', 'created_at', 'created_by'],
    order: 'version',
  },
  { name: 'page_strings', columns: ['lang', 'strings', 'imported_at', 'imported_by'], order: 'lang' },
];

/** Tables whose `id` a store generates (SQLite rowid, PostgreSQL identity): after a copy the next id follows the largest copied. */
export const GENERATED_ID_TABLES: readonly string[] = ['profiles', 'services', 'signing_keys', 'suppressions', 'sms_messages', 'api_keys', 'webhooks', 'webhook_deliveries'];

/** Integers as numbers, text as strings, `signing_keys.secret` as a Buffer, NULL as null. */
export type RawValue = string | number | Buffer | null;

/**
 * Some rows of one table: either each an array in STORE_TABLES' column
 * order, or (when the export was asked for `copyText`, by a source that can
 * format it) the same rows as the lines of PostgreSQL's COPY text format
 * (columns in that order, tab-separated, `\N` for NULL, backslash, tab,
 * newline and CR escaped, bytea as `\\x` and hex, every line ending with a
 * newline), `count` of them.
 */
export type RawBatch = { table: string; rows: RawValue[][] } | { table: string; copyText: string; count: number };

export interface ExportAllOptions {
  /** The target takes COPY text (PostgreSQL): a source that can format it itself may give its batches so. */
  copyText?: boolean;
}

/** How many rows a batch holds. */
export const batchRows = (b: RawBatch): number => ('rows' in b ? b.rows.length : b.count);

/** Column `index` of a batch's last row, as text (for the ledger head of the last `ledger_blocks` batch). */
export function lastRowField(b: RawBatch, index: number): string {
  if ('rows' in b) return String(b.rows[b.rows.length - 1]![index]);
  const start = b.copyText.lastIndexOf('\n', b.copyText.length - 2) + 1;
  return b.copyText.slice(start, b.copyText.length - 1).split('\t')[index]!;
}

export interface ImportAllOptions {
  /**
   * Called with the verification of the written rows, inside the write
   * transaction, before the commit: throwing there rolls everything back.
   */
  accept?: (verification: Extract<LedgerVerification, { ok: true }>) => void;
  /** Called after each batch is written, with its table and the rows of that table written so far. */
  onProgress?: (table: string, rows: number) => void;
}

/**
 * A store that can hand over all its rows and take a whole store's rows: what
 * `store copy` needs of both ends. Implemented by SqliteStore and PgStore.
 */
export interface RowStore extends LandingStore {
  /**
   * Every row of every table, from ONE consistent snapshot (SQLite: one read
   * transaction; PostgreSQL: one REPEATABLE READ READ ONLY transaction):
   * tables in STORE_TABLES order, each table's rows in its `order`, in
   * batches of at most a few thousand rows (never an empty batch), so that
   * memory stays constant. Stopping early (break, throw) ends the snapshot.
   */
  exportAll(options?: ExportAllOptions): AsyncIterable<RawBatch>;
  /** Whether importAll takes `copyText` batches as they are (PostgreSQL); otherwise only `rows` batches. */
  readonly takesCopyText: boolean;
  /**
   * Writes the rows of `batches` verbatim (ids, hashes and times as given,
   * tables in STORE_TABLES order) in ONE transaction that also holds the
   * store's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the chain lock
   * and an EXCLUSIVE lock on profiles). First, inside it, the store must be
   * empty: no row in profiles, services, subscriptions, landing_pages,
   * landing_page_versions, ledger_events, ledger_blocks, and no signing key
   * but the one a new store is made with (at most one key, never retired);
   * otherwise a `conflict` error naming the store. That key and every
   * setting are then removed (the copied keys and settings replace them).
   * After the rows: generated ids continue after the largest copied id
   * (PostgreSQL: setval on the identity sequences), then verifyLedger's two
   * steps run on the written rows inside the transaction; a failure throws
   * an `integrity` error, and `options.accept` may throw too. Any error rolls
   * everything back: the store is as empty as it was. Returns the verification.
   */
  importAll(batches: AsyncIterable<RawBatch>, options?: ImportAllOptions): Promise<Extract<LedgerVerification, { ok: true }>>;
}

/** The columns of a table, by name. */
export function storeTable(name: string): StoreTable {
  const t = STORE_TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`not a store table: ${name}`);
  return t;
}

/** The tables that must be empty for importAll (signing_keys has its own rule). */
export const MUST_BE_EMPTY: readonly string[] = STORE_TABLES.map((t) => t.name).filter((n) => n !== 'settings' && n !== 'signing_keys');
