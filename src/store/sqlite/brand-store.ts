import type { Brand, BrandInput, BrandRepository } from '../../landing/brand.js';
import { BRAND_COLUMNS, brandValues, rowToBrand, type BrandRow } from '../shared/brand-rows.js';
import type { SqliteStore } from './sqlite-store.js';

export class SqliteBrandRepository implements BrandRepository {
  constructor(private readonly store: SqliteStore) {}

  async latest(): Promise<Brand | null> {
    const r = this.store.db.prepare<[], BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions ORDER BY version DESC LIMIT 1`).get();
    return r ? rowToBrand(r) : null;
  }

  async version(version: number): Promise<Brand | null> {
    const r = this.store.db.prepare<[number], BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions WHERE version = ?`).get(version);
    return r ? rowToBrand(r) : null;
  }

  async list(): Promise<Brand[]> {
    return this.store.db.prepare<[], BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions ORDER BY version`).all().map(rowToBrand);
  }

  async set(input: BrandInput, at: string, actor: string): Promise<Brand> {
    const db = this.store.db;
    return this.store.writeTransaction(() => {
      const next = (db.prepare('SELECT coalesce(max(version), 0) + 1 FROM brand_versions').pluck().get() as number) ?? 1;
      db.prepare(`INSERT INTO brand_versions (${BRAND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(next, ...brandValues(input, at, actor));
      return rowToBrand(db.prepare<[number], BrandRow>(`SELECT ${BRAND_COLUMNS} FROM brand_versions WHERE version = ?`).get(next)!);
    });
  }
}
