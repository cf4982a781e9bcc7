import type { LedgerBlockInfo, LedgerDigestRepository } from '../../consent/digest.js';
import { BLOCK_SQL, blockInfo, HEAD_BLOCK_SQL, type BlockInfoRow } from '../shared/digest-rows.js';
import type { SqliteStore } from './sqlite-store.js';

export class SqliteDigestRepository implements LedgerDigestRepository {
  constructor(private readonly store: SqliteStore) {}

  async head(): Promise<LedgerBlockInfo | null> {
    return this.store.read(() => blockInfo(this.store.db.prepare<[], BlockInfoRow>(HEAD_BLOCK_SQL).get()));
  }

  async block(blockId: number): Promise<LedgerBlockInfo | null> {
    if (!Number.isSafeInteger(blockId)) return null;
    return this.store.read(() => blockInfo(this.store.db.prepare<[number], BlockInfoRow>(BLOCK_SQL('?')).get(blockId)));
  }
}
