import type { PageStringsRepository } from '../../landing/look.js';
import type { PgStore } from './pg-store.js';

interface Row {
  lang: string;
  strings: string;
  imported_at: string;
  imported_by: string;
}

export class PgPageStringsRepository implements PageStringsRepository {
  constructor(private readonly store: PgStore) {}

  async get(lang: string) {
    const r = (await this.store.query<Row>('SELECT lang, strings, imported_at, imported_by FROM page_strings WHERE lang = $1', [lang]))[0];
    return r ? { lang: r.lang, strings: r.strings, importedAt: r.imported_at, importedBy: r.imported_by } : null;
  }

  async langs(): Promise<string[]> {
    return (await this.store.query<{ lang: string }>('SELECT lang FROM page_strings ORDER BY lang')).map((r) => r.lang);
  }

  async put(lang: string, strings: string, at: string, actor: string): Promise<void> {
    await this.store.transaction((tx) =>
      tx.query(
        `INSERT INTO page_strings (lang, strings, imported_at, imported_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (lang) DO UPDATE SET strings = excluded.strings, imported_at = excluded.imported_at, imported_by = excluded.imported_by`,
        [lang, strings, at, actor],
      ),
    );
  }
}
