import type { ConsentStore } from '../consent/store.js';
import type { BrandRepository } from './brand.js';
import type { PageStringsRepository } from './look.js';
import type { PageDefinition, PageRecord, PageVersion } from './page.js';
import type { LandingSubmissions } from './submissions.js';

/**
 * A consent store that also keeps landing pages: what src/landing works
 * against. The domain's ConsentStore knows nothing of pages; the SQLite
 * and PostgreSQL stores implement both.
 */
export interface LandingStore extends ConsentStore {
  /** Landing pages: drafts and published versions. */
  readonly pages: PageRepository;
  /** The keys that sign landing-page links (tokens.ts). */
  readonly keys: KeyRepository;
  /** What the landing server needs: find-or-create by email, group commit, the client-address salt. */
  readonly landing: LandingSubmissions;
  /** The organisation shown on every page, versioned (brand.ts). */
  readonly brand: BrandRepository;
  /** Page strings imported per language (`landing strings import`), overriding or adding to the shipped files. */
  readonly pageStrings: PageStringsRepository;
}

/**
 * What landing pages need from a store (implemented in src/store/sqlite and src/store/postgres).
 * Versions are immutable once published.
 */
export interface PageRepository {
  /** A new page whose draft is `definition`; `conflict` when the slug exists. */
  create(definition: PageDefinition, at: string): Promise<PageRecord>;
  /** Replaces the draft; published versions are untouched. `not-found` when no such page. */
  saveDraft(definition: PageDefinition, at: string): Promise<PageRecord>;
  get(slug: string): Promise<PageRecord | null>;
  /** Sorted by slug. */
  list(): Promise<PageRecord[]>;
  /**
   * Freezes the draft as the next version, unless it equals the latest
   * version, which is then returned with `created: false`.
   */
  publish(slug: string, at: string, actor: string): Promise<{ version: PageVersion; created: boolean }>;
  latestVersion(slug: string): Promise<PageVersion | null>;
  version(slug: string, version: number): Promise<PageVersion | null>;
}

/** A key that signs links. The secret never leaves the store except to sign and verify. */
export interface SigningKeyRecord {
  id: number;
  secret: Buffer;
  createdAt: string;
  retiredAt: string | null;
}

export interface KeyRepository {
  /** Every key, oldest first, retired ones included. */
  list(): Promise<SigningKeyRecord[]>;
  /** Adds a new key, which signs from now on; older keys still verify. */
  rotate(at: string): Promise<SigningKeyRecord>;
  /** Links signed with a retired key stop working. The current signing key cannot be retired. */
  retire(id: number, at: string): Promise<SigningKeyRecord>;
}
