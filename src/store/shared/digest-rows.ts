/** What both stores share of ledger digests (ConsentStore.digests): the reads of a block. */
import type { LedgerBlockInfo } from '../../consent/digest.js';

const COLUMNS = 'id, hash, last_event_id, created_at';
/** The last block. */
export const HEAD_BLOCK_SQL = `SELECT ${COLUMNS} FROM ledger_blocks ORDER BY id DESC LIMIT 1`;
/** One block by id (`param`: `?` or `$1`). */
export const BLOCK_SQL = (param: string) => `SELECT ${COLUMNS} FROM ledger_blocks WHERE id = ${param}`;

export interface BlockInfoRow {
  id: number | string;
  hash: string;
  last_event_id: number | string;
  created_at: string;
}

/**
 * A block row as a digest names it. `events` is the block's last event id:
 * `ledger verify` holds event ids to 1…n without a gap, so in a chain that
 * verifies it is the count of events up to and including the block, read
 * without a scan. (PostgreSQL's bigint columns come back as text.)
 */
export function blockInfo(r: BlockInfoRow | undefined): LedgerBlockInfo | null {
  if (!r) return null;
  return { blockId: Number(r.id), hash: r.hash, events: Number(r.last_event_id), committedAt: r.created_at };
}
