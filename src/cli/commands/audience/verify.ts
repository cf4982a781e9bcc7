import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import Papa from 'papaparse';
import { parseManifest, verifyManifest } from '../../../consent/audience.js';
import { invalid, notFound } from '../../../consent/errors.js';
import { normaliseEmail } from '../../../consent/profile.js';
import type { ConsentStore } from '../../../consent/store.js';
import type { CommandContext } from '../../context.js';

export async function run(ctx: CommandContext, manifestPath: string, o: Record<string, unknown>): Promise<void> {
  const manifest = parseManifest(await ctx.readInput(manifestPath), manifestPath);
  const store = await ctx.store();
  const file = typeof o.file === 'string' ? await readExport(ctx, store, o.file) : null;
  const result = await verifyManifest(store, manifest, file);
  if (o.json) return ctx.json(result);
  ctx.print(
    `Manifest verified: the audience at block ${result.ledger.blockId} (event ${result.ledger.eventId}, ${result.ledger.at}) recomputed from the ledger has ${result.count} profile(s) and the root ${result.root}.` +
      (result.file ? `\n${result.file.path}: ${result.file.rows} row(s), exactly that audience${manifest.file ? ', and the file written with the manifest (SHA-256)' : ''}.` : ''),
  );
}

/** The ids an export holds: JSON lines by `id`, CSV by the `email` column (looked up in the store). */
async function readExport(ctx: CommandContext, store: ConsentStore, shown: string) {
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(ctx.deps.cwd, shown));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`No file ${shown}.`);
    throw e;
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  const ids: number[] = [];
  const unknown: string[] = [];
  if (text.trimStart().startsWith('{')) {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const id = (JSON.parse(line) as { id?: unknown }).id;
      if (typeof id !== 'number') throw invalid(`${shown}, line ${i + 1}: no profile id.`);
      ids.push(id);
    });
  } else {
    const parsed = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
    if (!parsed.meta.fields?.includes('email')) throw invalid(`${shown} has no email column: not an export of profiles.`);
    let line = 1;
    for (const row of parsed.data) {
      line++;
      const email = normaliseEmail(row.email ?? '');
      // A profile erased since the export has lost its email: it is found by its key in the ledger.
      const id = email ? ((await store.findProfile({ email }))?.id ?? (await store.asOf.erasedProfileByEmail(email))) : null;
      if (id != null) ids.push(id);
      else unknown.push(String(line));
    }
  }
  return { path: shown, sha256, ids, unknown };
}
