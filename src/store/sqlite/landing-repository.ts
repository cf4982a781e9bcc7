import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../../consent/errors.js';
import { canonicalDefinition, readDefinition } from '../../landing/canonical.js';
import type { PageDefinition, PageRecord, PageVersion } from '../../landing/page.js';
import type { KeyRepository, PageRepository, SigningKeyRecord } from '../../landing/repository.js';
import type { SqliteStore } from './sqlite-store.js';

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

// Definitions are validated (parsePageDefinition) before they are written, and
// stored as canonical JSON; reading them back needs no second validation.
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
  return {
    slug: r.slug,
    version: r.version,
    definition: readDefinition(r.definition),
    publishedAt: r.published_at,
    publishedBy: r.published_by,
  };
}

function toKey(r: KeyRow): SigningKeyRecord {
  return { id: r.id, secret: r.secret, createdAt: r.created_at, retiredAt: r.retired_at };
}

export class SqlitePageRepository implements PageRepository {
  private readonly stmts;

  constructor(private readonly store: SqliteStore) {
    const db = store.db;
    this.stmts = {
      get: db.prepare<[string], PageRow>(`${PAGE_SELECT} WHERE p.slug = ?`),
      list: db.prepare<[], PageRow>(`${PAGE_SELECT} ORDER BY p.slug`),
      insert: db.prepare('INSERT INTO landing_pages (slug, draft, created_at, updated_at) VALUES (?, ?, ?, ?)'),
      update: db.prepare('UPDATE landing_pages SET draft = ?, updated_at = ? WHERE slug = ?'),
      latest: db.prepare<[string], VersionRow>(
        'SELECT * FROM landing_page_versions WHERE slug = ? ORDER BY version DESC LIMIT 1',
      ),
      version: db.prepare<[string, number], VersionRow>('SELECT * FROM landing_page_versions WHERE slug = ? AND version = ?'),
      insertVersion: db.prepare(
        'INSERT INTO landing_page_versions (slug, version, definition, published_at, published_by) VALUES (?, ?, ?, ?, ?)',
      ),
    };
  }

  async create(definition: PageDefinition, at: string): Promise<PageRecord> {
    return this.store.writeTransaction(() => {
      if (this.stmts.get.get(definition.slug)) {
        throw conflict(`A page "${definition.slug}" already exists.`, 'Change it with `consent landing edit`, or choose another slug.');
      }
      this.stmts.insert.run(definition.slug, canonicalDefinition(definition), at, at);
      return toRecord(this.stmts.get.get(definition.slug)!);
    });
  }

  async saveDraft(definition: PageDefinition, at: string): Promise<PageRecord> {
    return this.store.writeTransaction(() => {
      const { changes } = this.stmts.update.run(canonicalDefinition(definition), at, definition.slug);
      if (changes === 0) throw notFound(`No page "${definition.slug}".`, 'See `consent landing list`.');
      return toRecord(this.stmts.get.get(definition.slug)!);
    });
  }

  async get(slug: string): Promise<PageRecord | null> {
    return this.store.read(() => {
      const row = this.stmts.get.get(slug);
      return row ? toRecord(row) : null;
    });
  }

  async list(): Promise<PageRecord[]> {
    return this.store.read(() => this.stmts.list.all().map(toRecord));
  }

  async publish(slug: string, at: string, actor: string): Promise<{ version: PageVersion; created: boolean }> {
    return this.store.writeTransaction(() => {
      const page = this.stmts.get.get(slug);
      if (!page) throw notFound(`No page "${slug}".`, 'See `consent landing list`.');
      const latest = this.stmts.latest.get(slug);
      if (latest && latest.definition === page.draft) return { version: toVersion(latest), created: false };
      const next = (latest?.version ?? 0) + 1;
      this.stmts.insertVersion.run(slug, next, page.draft, at, actor);
      return { version: toVersion(this.stmts.version.get(slug, next)!), created: true };
    });
  }

  async latestVersion(slug: string): Promise<PageVersion | null> {
    return this.store.read(() => {
      const row = this.stmts.latest.get(slug);
      return row ? toVersion(row) : null;
    });
  }

  async version(slug: string, version: number): Promise<PageVersion | null> {
    return this.store.read(() => {
      const row = this.stmts.version.get(slug, version);
      return row ? toVersion(row) : null;
    });
  }
}

export class SqliteKeyRepository implements KeyRepository {
  private readonly stmts;

  constructor(private readonly store: SqliteStore) {
    const db = store.db;
    this.stmts = {
      list: db.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY id'),
      get: db.prepare<[number], KeyRow>('SELECT * FROM signing_keys WHERE id = ?'),
      insert: db.prepare('INSERT INTO signing_keys (secret, created_at) VALUES (?, ?)'),
      current: db.prepare<[], { id: number }>('SELECT max(id) AS id FROM signing_keys WHERE retired_at IS NULL'),
      retire: db.prepare('UPDATE signing_keys SET retired_at = ? WHERE id = ?'),
    };
  }

  async list(): Promise<SigningKeyRecord[]> {
    return this.store.read(() => this.stmts.list.all().map(toKey));
  }

  async rotate(at: string): Promise<SigningKeyRecord> {
    return this.store.writeTransaction(() => {
      const { lastInsertRowid } = this.stmts.insert.run(randomBytes(32), at);
      return toKey(this.stmts.get.get(Number(lastInsertRowid))!);
    });
  }

  async retire(id: number, at: string): Promise<SigningKeyRecord> {
    return this.store.writeTransaction(() => {
      const key = this.stmts.get.get(id);
      if (!key) throw notFound(`No signing key ${id}.`, 'See `consent keys list`.');
      if (key.retired_at !== null) return toKey(key);
      if (this.stmts.current.get()?.id === id) {
        throw conflict(`Key ${id} is the one signing new links.`, 'Run `consent keys rotate` first, then retire it.');
      }
      this.stmts.retire.run(at, id);
      return toKey(this.stmts.get.get(id)!);
    });
  }
}
