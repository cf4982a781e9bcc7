import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { invalid, notFound } from '../../../consent/errors.js';
import { brandJson, parseBrandText, parseColor, parseLogo, parsePrivacyUrl, type Brand, type BrandInput } from '../../../landing/brand.js';
import { setBrand } from '../../../landing/operations.js';
import type { CommandContext } from '../../context.js';

async function logoFrom(ctx: CommandContext, file: string) {
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(ctx.deps.cwd, file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`No file ${file}.`);
    throw e;
  }
  return parseLogo(bytes, file);
}

export async function set(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const given = (k: string) => typeof o[k] === 'string';
  // Validate everything before opening the store: bad input changes nothing.
  const name = given('name') ? parseBrandText(String(o.name), '--name', 200) : undefined;
  if (given('name') && !name) throw invalid('Invalid --name: it must not be empty.');
  const logo = o.logo === false ? null : given('logo') ? await logoFrom(ctx, String(o.logo)) : undefined;
  const color = given('color') ? (String(o.color) === '' ? null : parseColor(String(o.color))) : undefined;
  const privacyUrl = given('privacyUrl') ? (String(o.privacyUrl) === '' ? null : parsePrivacyUrl(String(o.privacyUrl))) : undefined;
  const contact = given('contact') ? parseBrandText(String(o.contact), '--contact', 200) : undefined;
  const address = given('address') ? parseBrandText(String(o.address), '--address', 500) : undefined;
  const store = await ctx.store();
  const prev = await store.brand.latest();
  const resolvedName = name ?? prev?.name;
  if (!resolvedName) throw invalid('No brand yet: the first `brand set` needs --name.', 'For example: consent brand set --name "Example Ltd" --privacy-url https://example.org/privacy');
  const input: BrandInput = {
    name: resolvedName,
    logo: logo === undefined ? (prev?.logo ?? null) : logo,
    color: color === undefined ? (prev?.color ?? null) : color,
    privacyUrl: privacyUrl === undefined ? (prev?.privacyUrl ?? null) : privacyUrl,
    contact: contact === undefined ? (prev?.contact ?? null) : contact,
    address: address === undefined ? (prev?.address ?? null) : address,
  };
  const b = await setBrand(store, input, ctx.nowIso(), ctx.actor());
  if (o.json) return ctx.json(brandJson(b));
  printBrand(ctx, b);
  ctx.notice(`Stored brand version ${b.version}. Published pages show it from now on (the server re-reads it within a second).`);
}

export async function show(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  let b: Brand | null;
  if (o.brandVersion !== undefined) {
    const n = Number(o.brandVersion);
    if (!Number.isInteger(n) || n < 1) throw invalid(`Invalid --brand-version "${String(o.brandVersion)}": a version number (1, 2, …).`);
    b = await store.brand.version(n);
    if (!b) throw notFound(`No brand version ${n}.`);
  } else b = await store.brand.latest();
  if (o.json) return ctx.json(b ? brandJson(b) : null);
  if (!b) {
    ctx.print('No brand set: pages show no organisation. Set one with `consent brand set --name N --privacy-url U`.');
    return;
  }
  printBrand(ctx, b);
}

function printBrand(ctx: CommandContext, b: Brand): void {
  const j = brandJson(b);
  const lines = [
    `version      ${j.version} (${j.createdAt}, by ${j.createdBy})`,
    `name         ${j.name}`,
    `logo         ${j.logo ? `${j.logo.type}, ${j.logo.bytes} bytes` : '-'}`,
    `color        ${j.color ?? '-'}`,
    `privacy URL  ${j.privacyUrl ?? '- (needed to publish pages)'}`,
    `contact      ${j.contact ?? '-'}`,
    `address      ${j.address ?? '-'}`,
  ];
  ctx.print(lines.join('\n'));
}
