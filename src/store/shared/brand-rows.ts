/** The brand_versions table (migration 9), shared by both stores: its DDL and row mapping. */
import type { Brand, BrandInput } from '../../landing/brand.js';

/** Same columns on both stores (text everywhere; the version an integer). */
export const brandVersionsDdl = (integer: string) => `
  CREATE TABLE brand_versions (
    version ${integer} PRIMARY KEY CHECK (version >= 1),
    name text NOT NULL,
    logo_type text CHECK (logo_type IN ('image/png', 'image/svg+xml')),
    logo_base64 text,
    color text,
    privacy_url text,
    contact text,
    address text,
    created_at text NOT NULL,
    created_by text NOT NULL,
    CHECK ((logo_type IS NULL) = (logo_base64 IS NULL))
  );
  -- A brand version is immutable once made.
`;

export interface BrandRow {
  version: number;
  name: string;
  logo_type: 'image/png' | 'image/svg+xml' | null;
  logo_base64: string | null;
  color: string | null;
  privacy_url: string | null;
  contact: string | null;
  address: string | null;
  created_at: string;
  created_by: string;
}

export const BRAND_COLUMNS = 'version, name, logo_type, logo_base64, color, privacy_url, contact, address, created_at, created_by';

export function rowToBrand(r: BrandRow): Brand {
  return {
    version: Number(r.version),
    name: r.name,
    logo: r.logo_type && r.logo_base64 ? { mime: r.logo_type, base64: r.logo_base64 } : null,
    color: r.color,
    privacyUrl: r.privacy_url,
    contact: r.contact,
    address: r.address,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

/** The insert's values after the version, in BRAND_COLUMNS order. */
export function brandValues(b: BrandInput, at: string, actor: string): unknown[] {
  return [b.name, b.logo?.mime ?? null, b.logo?.base64 ?? null, b.color, b.privacyUrl, b.contact, b.address, at, actor];
}

/**
 * Page strings imported by an operator (`landing strings import`), one row
 * per language: the whole set as JSON, validated for completeness before it
 * is written. Overrides the shipped file of that language, or adds one.
 */
export const pageStringsDdl = `
  CREATE TABLE page_strings (
    lang text PRIMARY KEY,
    strings text NOT NULL,
    imported_at text NOT NULL,
    imported_by text NOT NULL
  );
`;
