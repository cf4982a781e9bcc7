import type { PageStringsRepository } from '../../landing/look.js';
import type { SqliteStore } from './sqlite-store.js';

interface Row {
  lang: string;
  strings: string;
  imported_at: string;
  imported_by: string;
}

export class SqlitePageStringsRepository implements PageStringsRepository {
  constructor(private readonly store: SqliteStore) {}

  async get(lang: string) {
    const r = this.store.db.prepare<[string], Row>('SELECT lang, strings, imported_at, imported_by FROM page_strings WHERE lang = ?').get(lang);
    return r ? { lang: r.lang, strings: r.strings, importedAt: r.imported_at, importedBy: r.imported_by } : null;
  }

  async langs(): Promise<string[]> {
    return this.store.db.prepare<[], string>('SELECT lang FROM page_strings ORDER BY lang').pluck().all();
  }

  async put(lang: string, strings: string, at: string, actor: string): Promise<void> {
    this.store.writeTransaction(() =>
      this.store.db
        .prepare(
          `INSERT INTO page_strings (lang, strings, imported_at, imported_by) VALUES (?, ?, ?, ?)
           ON CONFLICT (lang) DO UPDATE SET strings = excluded.strings, imported_at = excluded.imported_at, imported_by = excluded.imported_by`,
        )
        .run(lang, strings, at, actor),
    );
  }
}
