/**
 * What an import needs from a store, beyond the ConsentStore basics. The
 * SQLite store implements it in src/store/sqlite/bulk-store.ts (src/imports drives it) with a
 * temporary staging table and set-based SQL.
 */
import type { ChangeContext } from './ledger.js';

/**
 * Valid, normalised rows, flattened so that a batch crosses threads cheaply:
 * STAGED_WIDTH values per row, in the order email, phone, first name,
 * last name, set mask, clear mask, in file order. Bit i of a mask is CHANNELS[i]: the set
 * mask has the opt-outs the row sets, the clear mask those it asks to clear;
 * a channel in neither is left as is.
 */
export interface StagedBatch {
  rows: number;
  values: (string | number | null)[];
}
export const STAGED_WIDTH = 6;

export interface ImportCounts {
  /** Distinct emails in the file (after merging duplicates). */
  profiles: number;
  new: number;
  updated: number;
  unchanged: number;
  /** Rows merged into an earlier row with the same email. */
  duplicatesMerged: number;
  /** Opt-out flags turned on (new profiles included). */
  optOutsSet: number;
  /** Opt-out flags turned off (only with --allow-optin). */
  optInsApplied: number;
  /** Opt-out flags the file asked to clear and that were kept (no --allow-optin). */
  optInsNotApplied: number;
  /** Ledger events written (0 on a dry run). */
  events: number;
}

/**
 * One import, from staging to its single atomic write. Staging touches only
 * temporary storage; nothing in the store changes before `apply`.
 */
export interface ImportSession {
  stage(batch: StagedBatch): Promise<void>;
  /**
   * Plans against the current store and, unless `context` is null (a dry
   * run), writes profiles and ledger events in one transaction.
   */
  apply(options: { allowOptin: boolean }, context: ChangeContext | null): Promise<ImportCounts>;
  /** Drops the staging data; always called, also after a failure. */
  discard(): Promise<void>;
}

export interface BulkStore {
  beginImport(): Promise<ImportSession>;
}
