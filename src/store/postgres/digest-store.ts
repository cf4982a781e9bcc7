import type { LedgerBlockInfo, LedgerDigestRepository } from '../../consent/digest.js';
import { BLOCK_SQL, blockInfo, HEAD_BLOCK_SQL, type BlockInfoRow } from '../shared/digest-rows.js';
import type { PgStore } from './pg-store.js';

export class PgDigestRepository implements LedgerDigestRepository {
  constructor(private readonly store: PgStore) {}

  async head(): Promise<LedgerBlockInfo | null> {
    return blockInfo((await this.store.query<BlockInfoRow>(HEAD_BLOCK_SQL))[0]);
  }

  async block(blockId: number): Promise<LedgerBlockInfo | null> {
    // Beyond bigint there is no such block (and PostgreSQL would refuse the parameter).
    if (!Number.isSafeInteger(blockId)) return null;
    return blockInfo((await this.store.query<BlockInfoRow>(BLOCK_SQL('$1::bigint'), [blockId]))[0]);
  }
}
