import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../../consent/errors.js';
import { canonicalDefinition, readDefinition } from '../../landing/canonical.js';
import type { PageDefinition, PageRecord, PageVersion } from '../../landing/page.js';
import type { KeyRepository, PageRepository, SigningKeyRecord } from '../../landing/repository.js';
import type { PgStore, PgTx } from './pg-store.js';

interface PageRow {
  slug: string;
  draft: string;
  created_at: string;
  updated_at: string;
  latest_version: number | null;
  latest_definition: string | null;
  published_at: string | null;
}

interface VersionRow {
  slug: string;
  version: number;
  definition: string;
  published_at: string;
  published_by: string;
}

interface KeyRow {
  id: number;
  secret: Buffer;
  created_at: string;
  retired_at: string | null;
}

const PAGE_SELECT = `
  SELECT p.slug, p.draft, p.created_at, p.updated_at,
         v.version AS latest_version, v.definition AS latest_definition, v.published_at
  FROM landing_pages p
  LEFT JOIN landing_page_versions v
    ON v.slug = p.slug AND v.version = (SELECT max(version) FROM landing_page_versions WHERE slug = p.slug)`;

function toRecord(r: PageRow): PageRecord {
  return {
    slug: r.slug,
    draft: readDefinition(r.draft),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    latestVersion: r.latest_version ?? 0,
    publishedAt: r.published_at,
    draftChanged: r.latest_definition !== r.draft,
  };
}

function toVersion(r: VersionRow): PageVersion {
  return { slug: r.slug, version: r.version, definition: readDefinition(r.definition), publishedAt: r.published_at, publishedBy: r.published_by };
}

const toKey = (r: KeyRow): SigningKeyRecord => ({ id: r.id, secret: r.secret, createdAt: r.created_at, retiredAt: r.retired_at });

export class PgPageRepository implements PageRepository {
  constructor(private readonly store: PgStore) {}

  private async row(q: { query: PgStore['query'] } | PgTx, slug: string): Promise<PageRow | undefined> {
    return (await q.query<PageRow>(`${PAGE_SELECT} WHERE p.slug = $1`, [slug]))[0];
  }

  async create(definition: PageDefinition, at: string): Promise<PageRecord> {
    return this.store.transaction(async (tx) => {
      const ins = await tx.query('INSERT INTO landing_pages (slug, draft, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (slug) DO NOTHING RETURNING slug', [
        definition.slug,
        canonicalDefinition(definition),
        at,
      ]);
      if (ins.length === 0) {
        throw conflict(`A page "${definition.slug}" already exists.`, 'Change it with `consent landing edit`, or choose another slug.');
      }
      return toRecord((await this.row(tx, definition.slug))!);
    });
  }

  async saveDraft(definition: PageDefinition, at: string): Promise<PageRecord> {
    return this.store.transaction(async (tx) => {
      const upd = await tx.query('UPDATE landing_pages SET draft = $1, updated_at = $2 WHERE slug = $3 RETURNING slug', [
        canonicalDefinition(definition),
        at,
        definition.slug,
      ]);
      if (upd.length === 0) throw notFound(`No page "${definition.slug}".`, 'See `consent landing list`.');
      return toRecord((await this.row(tx, definition.slug))!);
    });
  }

  async get(slug: string): Promise<PageRecord | null> {
    const r = await this.row(this.store, slug);
    return r ? toRecord(r) : null;
  }

  async list(): Promise<PageRecord[]> {
    return (await this.store.query<PageRow>(`${PAGE_SELECT} ORDER BY p.slug`)).map(toRecord);
  }

  async publish(slug: string, at: string, actor: string): Promise<{ version: PageVersion; created: boolean }> {
    return this.store.transaction(async (tx) => {
      // The page's row is the lock: two publishers of one page queue, and the second finds the first's version.
      const [page] = await tx.query<{ draft: string }>('SELECT draft FROM landing_pages WHERE slug = $1 FOR UPDATE', [slug]);
      if (!page) throw notFound(`No page "${slug}".`, 'See `consent landing list`.');
      const [latest] = await tx.query<VersionRow>('SELECT * FROM landing_page_versions WHERE slug = $1 ORDER BY version DESC LIMIT 1', [slug]);
      if (latest && latest.definition === page.draft) return { version: toVersion(latest), created: false };
      const [v] = await tx.query<VersionRow>(
        'INSERT INTO landing_page_versions (slug, version, definition, published_at, published_by) VALUES ($1, $2, $3, $4, $5) RETURNING *',
        [slug, (latest?.version ?? 0) + 1, page.draft, at, actor],
      );
      return { version: toVersion(v!), created: true };
    });
  }

  async latestVersion(slug: string): Promise<PageVersion | null> {
    const [r] = await this.store.query<VersionRow>('SELECT * FROM landing_page_versions WHERE slug = $1 ORDER BY version DESC LIMIT 1', [slug]);
    return r ? toVersion(r) : null;
  }

  async version(slug: string, version: number): Promise<PageVersion | null> {
    if (!Number.isSafeInteger(version) || version > 2147483647 || version < 1) return null;
    const [r] = await this.store.query<VersionRow>('SELECT * FROM landing_page_versions WHERE slug = $1 AND version = $2', [slug, version]);
    return r ? toVersion(r) : null;
  }
}

export class PgKeyRepository implements KeyRepository {
  constructor(private readonly store: PgStore) {}

  async list(): Promise<SigningKeyRecord[]> {
    return (await this.store.query<KeyRow>('SELECT * FROM signing_keys ORDER BY id')).map(toKey);
  }

  async rotate(at: string): Promise<SigningKeyRecord> {
    const [r] = await this.store.query<KeyRow>('INSERT INTO signing_keys (secret, created_at) VALUES ($1, $2) RETURNING *', [randomBytes(32), at]);
    return toKey(r!);
  }

  async retire(id: number, at: string): Promise<SigningKeyRecord> {
    return this.store.transaction(async (tx) => {
      // Every key row locked: a rotate or retire elsewhere cannot change which key is current meanwhile.
      const keys = await tx.query<KeyRow>('SELECT * FROM signing_keys ORDER BY id FOR UPDATE');
      const key = keys.find((k) => k.id === id);
      if (!key) throw notFound(`No signing key ${id}.`, 'See `consent keys list`.');
      if (key.retired_at !== null) return toKey(key);
      const current = Math.max(...keys.filter((k) => k.retired_at === null).map((k) => k.id));
      if (current === id) throw conflict(`Key ${id} is the one signing new links.`, 'Run `consent keys rotate` first, then retire it.');
      const [r] = await tx.query<KeyRow>('UPDATE signing_keys SET retired_at = $1 WHERE id = $2 RETURNING *', [at, id]);
      return toKey(r!);
    });
  }
}
