import type { Brand, BrandInput, BrandRepository } from '../../landing/brand.js';
import { BRAND_COLUMNS, brandValues, rowToBrand, type BrandRow } from '../shared/brand-rows.js';
import type { PgStore } from './pg-store.js';

/** Serialises `brand set`s, so that two at once make two versions, never one conflict. */
const BRAND_LOCK = 0x62726e64; // "brnd"

export class PgBrandRepository implements BrandRepository {
  constructor(private readonly store: PgStore) {}

  async latest(): Promise<Brand | null> {
    const r = (await this.store.query<BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions ORDER BY version DESC LIMIT 1`))[0];
    return r ? rowToBrand(r) : null;
  }

  async version(version: number): Promise<Brand | null> {
    const r = (await this.store.query<BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions WHERE version = $1`, [version]))[0];
    return r ? rowToBrand(r) : null;
  }

  async list(): Promise<Brand[]> {
    return (await this.store.query<BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions ORDER BY version`)).map(rowToBrand);
  }

  async set(input: BrandInput, at: string, actor: string): Promise<Brand> {
    return this.store.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [BRAND_LOCK]);
      const rows = await tx.query<BrandRow>(
        `INSERT INTO brand_versions (${BRAND_COLUMNS})
         SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM brand_versions
         RETURNING ${BRAND_COLUMNS}`,
        brandValues(input, at, actor),
      );
      return rowToBrand(rows[0]!);
    });
  }
}
