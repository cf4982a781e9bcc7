/**
 * `store copy`: every row of one store into an empty other, either being
 * SQLite or PostgreSQL. The source's ledger is verified first (nothing is
 * written when it fails); the rows are read from one snapshot and written in
 * one transaction of the target, which verifies them and checks that its head
 * is the source's before it commits.
 */
import { ConsentError } from '../consent/errors.js';
import { GENESIS_HASH, type VerifyProgress } from '../consent/ledger.js';
import { openStore } from './index.js';
import { maskLocation } from './location.js';
import { batchRows, lastRowField, type RawBatch } from './rows.js';
import { verificationFailed } from './sqlite/rows.js';

export interface CopyResult {
  /** Both as they may be shown: a URL's password masked. */
  from: string;
  to: string;
  profiles: number;
  events: number;
  blocks: number;
  /** The ledger head of the source's snapshot, which the target's verified chain ends with. */
  head: string;
}

export interface CopyOptions {
  busyTimeoutMs?: number;
  /** Called once if the target store had to be created (a new SQLite file, or a database without our tables). */
  onCreate?: (location: string) => void;
  onVerifyProgress?: (p: VerifyProgress) => void;
  /** After each batch written: its table, and that table's rows written so far. */
  onProgress?: (table: string, rows: number) => void;
}

export async function copyStore(from: string, to: string, options: CopyOptions = {}): Promise<CopyResult> {
  if (from === to) {
    throw new ConsentError('invalid', `The source and the target are the same store (${maskLocation(from)}).`, 'Give another target.');
  }
  const source = await openStore(from, { create: false, busyTimeoutMs: options.busyTimeoutMs });
  try {
    const checked = await source.verifyLedger({ onProgress: options.onVerifyProgress });
    if (!checked.ok) {
      const e = verificationFailed(checked, source.location);
      throw new ConsentError('integrity', `The source ${source.location} does not verify: ${checked.problem}.`, 'Nothing was copied. Run `consent ledger verify` on it and restore it from a backup.', { cause: e });
    }
    const target = await openStore(to, { create: true, busyTimeoutMs: options.busyTimeoutMs, onCreate: options.onCreate });
    try {
      let head: string | null = null;
      let profiles = 0;
      async function* watched(): AsyncIterable<RawBatch> {
        for await (const b of source.exportAll({ copyText: target.takesCopyText })) {
          if (b.table === 'ledger_blocks') head = lastRowField(b, 5);
          if (b.table === 'profiles') profiles += batchRows(b);
          yield b;
        }
      }
      const v = await target.importAll(watched(), {
        onProgress: options.onProgress,
        accept: (written) => {
          const expected = head ?? GENESIS_HASH;
          if (written.head !== expected) {
            throw new ConsentError('integrity', `The copy's ledger head ${written.head} is not the source's (${expected}).`, 'Nothing was written to the target. Run the copy again.');
          }
        },
      });
      return { from: source.location, to: target.location, profiles, events: v.events, blocks: v.blocks, head: v.head };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

