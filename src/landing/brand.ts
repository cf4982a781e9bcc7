/**
 * The organisation a page speaks for (issue 16): its name, logo, colour,
 * privacy notice, contact and postal address, as shown on every page. Stored
 * and versioned in the store (`brand_versions`); each `brand set` is a new,
 * immutable version, and the evidence of each submission names the version
 * the person was shown. Pure: validation of what an operator gives.
 */
import { SaxesParser } from 'saxes';
import { invalid } from '../consent/errors.js';

/** A logo as kept: its type and its bytes in base64, inlined into pages as a data URI. */
export interface BrandLogo {
  mime: 'image/png' | 'image/svg+xml';
  base64: string;
}

/** What `brand set` gives (after validation); null = not set. */
export interface BrandInput {
  name: string;
  logo: BrandLogo | null;
  color: string | null;
  privacyUrl: string | null;
  contact: string | null;
  address: string | null;
}

/** One version of the brand, immutable once made. */
export interface Brand extends BrandInput {
  version: number;
  createdAt: string;
  createdBy: string;
}

export interface BrandRepository {
  /** The newest version, or null when no brand was ever set. */
  latest(): Promise<Brand | null>;
  version(version: number): Promise<Brand | null>;
  /** Every version, oldest first. */
  list(): Promise<Brand[]>;
  /** Stores `input` as the next version (1 for the first). */
  set(input: BrandInput, at: string, actor: string): Promise<Brand>;
}

/** The largest logo accepted, in bytes of the file (its data URI is a third larger): pages stay small. */
export const LOGO_MAX_BYTES = 32 * 1024;

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The SVG elements and attributes a logo may use: shapes, paths, gradients,
 * groups and text, nothing that runs, loads or embeds. Anything else is
 * refused (never rewritten), so what is stored is exactly what was given.
 */
const SVG_ELEMENTS = new Set([
  'svg', 'g', 'path', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan', 'title', 'desc',
  'defs', 'lineargradient', 'radialgradient', 'stop', 'clippath', 'mask', 'use', 'symbol', 'style',
]);
const SVG_ATTRIBUTES = new Set([
  'xmlns', 'xmlns:xlink', 'version', 'id', 'class', 'viewbox', 'width', 'height', 'x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'rx', 'ry',
  'd', 'points', 'fill', 'fill-opacity', 'fill-rule', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-linecap', 'stroke-linejoin',
  'stroke-miterlimit', 'stroke-dasharray', 'opacity', 'transform', 'offset', 'stop-color', 'stop-opacity', 'gradientunits',
  'gradienttransform', 'spreadmethod', 'fx', 'fy', 'clip-path', 'clip-rule', 'clippathunits', 'mask', 'maskunits', 'font-family', 'font-size',
  'font-weight', 'text-anchor', 'dominant-baseline', 'letter-spacing', 'preserveaspectratio', 'role', 'aria-label', 'aria-hidden',
  'href', 'xlink:href', 'style', 'dx', 'dy', 'xml:space', 'type',
]);

/** Why an SVG logo is refused, or null when it is acceptable. */
export function svgProblem(text: string): string | null {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) return 'it has a DOCTYPE or entity declaration';
  const parser = new SaxesParser({ xmlns: false });
  let problem: string | null = null;
  let root: string | null = null;
  let inStyle = 0;
  const fail = (p: string) => {
    problem ??= p;
  };
  parser.on('doctype', () => fail('it has a DOCTYPE or entity declaration'));
  parser.on('processinginstruction', (pi) => {
    if (pi.target.toLowerCase() !== 'xml') fail(`it has a processing instruction <?${pi.target}?>`);
  });
  parser.on('opentag', (tag) => {
    const name = tag.name.toLowerCase();
    root ??= name;
    if (!SVG_ELEMENTS.has(name)) return fail(`it has a <${tag.name}> element (not allowed in a logo)`);
    if (name === 'style') inStyle++;
    for (const [attr, value] of Object.entries(tag.attributes)) {
      const a = attr.toLowerCase();
      if (a.startsWith('on')) return fail(`it has an event handler attribute ${attr} on <${tag.name}>`);
      if (!SVG_ATTRIBUTES.has(a)) return fail(`it has an attribute ${attr} on <${tag.name}> (not allowed in a logo)`);
      const v = String(value);
      if ((a === 'href' || a === 'xlink:href') && !/^#[A-Za-z_][\w.-]*$/.test(v)) return fail(`it has an external reference ${attr}="${v.slice(0, 60)}" on <${tag.name}> (only #id references are allowed)`);
      if (/url\s*\(\s*['"]?\s*(?!#)/i.test(v) || /javascript:|@import|expression\s*\(/i.test(v)) return fail(`its attribute ${attr} on <${tag.name}> refers to an outside resource`);
      // A CSS escape (`u\72l(`, `@im\port`) would hide a url() or @import from the tests above: a logo needs none.
      if (v.includes('\\')) return fail(`its attribute ${attr} on <${tag.name}> has a backslash (CSS escapes are not allowed in a logo)`);
    }
  });
  parser.on('closetag', (tag) => {
    if (tag.name.toLowerCase() === 'style') inStyle--;
  });
  const checkCss = (t: string) => {
    if (inStyle > 0 && (/url\s*\(\s*['"]?\s*(?!#)/i.test(t) || /@import|javascript:|expression\s*\(/i.test(t))) fail('its <style> loads an outside resource (url() or @import)');
    if (inStyle > 0 && t.includes('\\')) fail('its <style> has a backslash (CSS escapes, which could hide a url() or @import, are not allowed in a logo)');
  };
  parser.on('text', checkCss);
  parser.on('cdata', checkCss);
  parser.on('error', (e) => fail(`it is not well-formed XML (${e.message.split('\n')[0]})`));
  try {
    parser.write(text).close();
  } catch (e) {
    fail(`it is not well-formed XML (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (!problem && root !== 'svg') return 'its root element is not <svg>';
  return problem;
}

/** A logo file's bytes, checked: a PNG by its magic bytes, an SVG by svgProblem; the size limit for both. */
export function parseLogo(bytes: Buffer, file: string): BrandLogo {
  if (bytes.length > LOGO_MAX_BYTES) {
    throw invalid(`The logo ${file} is ${bytes.length} bytes; at most ${LOGO_MAX_BYTES} bytes (32 KiB) are accepted.`, 'Use a smaller PNG or an SVG.');
  }
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_MAGIC)) return { mime: 'image/png', base64: bytes.toString('base64') };
  const text = bytes.toString('utf8');
  if (/^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<(svg|!DOCTYPE)/i.test(text)) {
    const problem = svgProblem(text.replace(/^\uFEFF/, ''));
    if (problem) throw invalid(`The SVG logo ${file} is refused: ${problem}.`, 'A logo may hold shapes, paths, gradients and text only: no script, event handler, foreign object, external reference, entity or DOCTYPE.');
    return { mime: 'image/svg+xml', base64: Buffer.from(text.replace(/^\uFEFF/, ''), 'utf8').toString('base64') };
  }
  throw invalid(`The logo ${file} is neither a PNG (by its first bytes) nor an SVG.`, 'Give a .png or .svg file.');
}

export function logoDataUri(logo: BrandLogo): string {
  return `data:${logo.mime};base64,${logo.base64}`;
}

/** A colour as #rgb or #rrggbb, lower-cased. */
export function parseColor(raw: string): string {
  if (!/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(raw)) throw invalid(`Invalid --color "${raw}": give a hex colour such as #1f5fbf.`);
  const ratio = contrastWithWhite(raw);
  // Buttons are white text on this colour, links this colour on the page's #f6f6f4: WCAG AA asks 4.5:1 for both, so 4.9:1 against white.
  if (ratio < 4.9) {
    throw invalid(`Invalid --color "${raw}": white text on it has a contrast of ${ratio.toFixed(2)}:1; pages need 4.9:1 (WCAG AA's 4.5:1 on the page background).`, 'Choose a darker shade.');
  }
  return raw.toLowerCase();
}

/** WCAG 2 contrast ratio of white against a #rgb / #rrggbb colour. */
export function contrastWithWhite(hex: string): number {
  const h = hex.length === 4 ? hex.slice(1).split('').map((c) => c + c).join('') : hex.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const l = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return 1.05 / (l + 0.05);
}

/** A privacy notice URL: absolute http(s) only (a page links to it). */
export function parsePrivacyUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`Invalid --privacy-url "${raw}": give an absolute https:// URL.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`Invalid --privacy-url "${raw}": only http(s) URLs can be linked from a page.`);
  return url.href;
}

export function parseBrandText(raw: string, flag: string, max: number): string | null {
  const v = raw.trim();
  if (v.length > max) throw invalid(`Invalid ${flag}: at most ${max} characters.`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(v)) throw invalid(`Invalid ${flag}: it holds control characters.`);
  return v === '' ? null : v;
}

/** What is missing for a page to be published under this brand (name, privacy URL); empty = nothing. */
export function brandMissing(brand: BrandInput): string[] {
  const missing: string[] = [];
  if (!brand.name) missing.push('name (--name)');
  if (!brand.privacyUrl) missing.push('privacy URL (--privacy-url)');
  return missing;
}

/** The stable JSON of `brand show --json` (the logo as its type, size and data URI). */
export function brandJson(b: Brand) {
  return {
    version: b.version,
    name: b.name,
    logo: b.logo ? { type: b.logo.mime, bytes: Buffer.from(b.logo.base64, 'base64').length, dataUri: logoDataUri(b.logo) } : null,
    color: b.color,
    privacyUrl: b.privacyUrl,
    contact: b.contact,
    address: b.address,
    createdAt: b.createdAt,
    createdBy: b.createdBy,
  };
}
