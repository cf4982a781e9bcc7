/**
 * Audiences at a ledger position, and send manifests: what `profile show
 * --as-of`, `profile list|export --reachable c --as-of T`, `--manifest`,
 * `audience prove` and `audience verify` do, against the ConsentStore only.
 */
import { profileAt, type LedgerPosition, type Moment, type ProfileAt } from './as-of.js';
import { CONTACT_CHANNELS, type ContactChannel } from './channels.js';
import { ConsentError, invalid } from './errors.js';
import { auditPath, EMPTY_ROOT, LEAF_TAG, MerkleBuilder, verifyInclusion } from './merkle.js';
import { requireProfile } from './operations.js';
import type { Profile, ProfileRef } from './profile.js';
import type { ConsentStore } from './store.js';

/** The moment of `--as-of <at>` (its prefix of the chain), or the head now at `now`. */
export async function momentOf(store: ConsentStore, asOf: string | null, now: string): Promise<Moment> {
  if (asOf === null) return { position: await store.asOf.head(), at: now };
  return { position: await store.asOf.positionAt(asOf), at: asOf };
}

export const positionView = (m: Moment) => ({ at: m.at, blockId: m.position.blockId, eventId: m.position.eventId, hash: m.position.hash });

/**
 * The profile a proof is asked for: by id or email as today, or, for an email no profile has
 * now, the erased profile that had it (found by the key its erasure recorded in the ledger).
 */
export async function requireProfileThen(store: ConsentStore, ref: ProfileRef): Promise<Profile> {
  if ('email' in ref && !(await store.findProfile(ref))) {
    const id = await store.asOf.erasedProfileByEmail(ref.email);
    const erased = id === null ? null : await store.findProfile({ id });
    if (erased) return erased;
  }
  return requireProfile(store, ref);
}

/** A profile replayed at a moment (`profile show --as-of`). */
export async function profileAsOf(store: ConsentStore, profile: Profile, moment: Moment): Promise<ProfileAt> {
  const n = moment.position.eventId;
  return profileAt({
    createdAt: profile.createdAt,
    at: moment.at,
    events: await store.asOf.profileEvents(profile.id, n),
    policies: await store.asOf.policyEvents(n),
    // The addresses it has now (its phone as it was at the position, if it changed since); an erased
    // profile's by the keys its erasure recorded (its addresses are gone).
    addressEvents:
      profile.erasedAt === null ? await store.asOf.addressEvents(profile.id, profile.email, profile.phone, n) : await store.asOf.erasedAddressEvents(profile.id, n),
  });
}

export interface ProfileAsOfView extends ProfileAt {
  id: number;
  email: string;
  asOf: ReturnType<typeof positionView>;
  reachable: Record<ContactChannel, boolean>;
}

export function profileAsOfView(profile: Profile, moment: Moment, at: ProfileAt): ProfileAsOfView {
  const reachable = {} as Record<ContactChannel, boolean>;
  for (const c of CONTACT_CHANNELS) reachable[c] = at.channels[c].reachable;
  return { id: profile.id, email: profile.email, asOf: positionView(moment), ...at, reachable };
}

/** The audience's profiles at a moment, a page at a time, with their Merkle root computed on the way. */
export async function* audienceProfiles(store: ConsentStore, channel: ContactChannel, moment: Moment, tree?: MerkleBuilder): AsyncIterable<Profile> {
  for await (const page of store.asOf.audience(channel, moment)) {
    for (const p of page) {
      tree?.add(p.id);
      yield p;
    }
  }
}

export const MANIFEST_KIND = 'consent-send-manifest';
export const DIGEST_ALGORITHM = 'merkle-sha256-rfc6962';

export interface Manifest {
  kind: typeof MANIFEST_KIND;
  version: 1;
  /** When the export was made. */
  createdAt: string;
  /** The moment of the audience: the ledger prefix (block, last event, hash) and the time expiries were judged at. */
  ledger: { blockId: number; eventId: number; hash: string; at: string };
  filter: { reachable: ContactChannel };
  count: number;
  /** Profiles that existed then but were not in the audience. */
  leftOut: number;
  digest: { algorithm: typeof DIGEST_ALGORITHM; leaf: string; node: string; root: string };
  /** What was written, when the export went to a file: its SHA-256 and size. */
  file: { format: string; sha256: string; bytes: number } | null;
}

export function makeManifest(input: {
  createdAt: string;
  moment: Moment;
  channel: ContactChannel;
  count: number;
  leftOut: number;
  root: string;
  file: Manifest['file'];
}): Manifest {
  return {
    kind: MANIFEST_KIND,
    version: 1,
    createdAt: input.createdAt,
    ledger: { blockId: input.moment.position.blockId, eventId: input.moment.position.eventId, hash: input.moment.position.hash, at: input.moment.at },
    filter: { reachable: input.channel },
    count: input.count,
    leftOut: input.leftOut,
    digest: {
      algorithm: DIGEST_ALGORITHM,
      leaf: `SHA-256(0x00 || "${LEAF_TAG}" || decimal profile id), ids ascending`,
      node: 'SHA-256(0x01 || left || right), split at the largest power of two below n (RFC 6962)',
      root: input.root,
    },
    file: input.file,
  };
}

/** A manifest read from JSON text: its shape checked (an `invalid` error naming the field). */
export function parseManifest(text: string, shown: string): Manifest {
  let m: any;
  try {
    m = JSON.parse(text);
  } catch {
    throw invalid(`${shown} is not JSON.`, 'Give the manifest written by `profile export --manifest`.');
  }
  const bad = (field: string) => invalid(`${shown}: ${field} is missing or not valid: not a send manifest.`);
  if (m?.kind !== MANIFEST_KIND || m.version !== 1) throw bad('kind/version');
  const l = m.ledger;
  if (!l || !Number.isSafeInteger(l.blockId) || !Number.isSafeInteger(l.eventId) || typeof l.hash !== 'string' || typeof l.at !== 'string') throw bad('ledger');
  if (!CONTACT_CHANNELS.includes(m.filter?.reachable)) throw bad('filter.reachable');
  if (!Number.isSafeInteger(m.count)) throw bad('count');
  if (m.digest?.algorithm !== DIGEST_ALGORITHM || !/^[0-9a-f]{64}$/.test(m.digest.root ?? '')) throw bad('digest');
  return m as Manifest;
}

/** The manifest's moment, once its ledger head is checked to be in the chain now (else an integrity error, exit 6). */
export async function manifestMoment(store: ConsentStore, m: Manifest): Promise<Moment> {
  const position: LedgerPosition =
    m.ledger.blockId === 0 ? await store.asOf.positionAt('0000-01-01T00:00:00.000Z') : ((await store.asOf.block(m.ledger.blockId)) ?? missing(m));
  if (position.hash !== m.ledger.hash || position.eventId !== m.ledger.eventId) {
    throw new ConsentError(
      'integrity',
      `The manifest's ledger head (block ${m.ledger.blockId}, ${m.ledger.hash.slice(0, 12)}…) is not in this store's chain: block ${m.ledger.blockId} is now ${position.hash.slice(0, 12)}… (event ${position.eventId}). The store was rewritten, or this is another store.`,
      'Check the manifest against the store it was made from; run `consent ledger verify`.',
    );
  }
  const chain = await store.verifyLedger();
  if (!chain.ok && !('check' in chain)) {
    throw new ConsentError('integrity', `The ledger does not verify: ${chain.problem}. The manifest's head cannot be trusted.`, 'Run `consent ledger verify`.');
  }
  return { position, at: m.ledger.at };
}

function missing(m: Manifest): never {
  throw new ConsentError(
    'integrity',
    `The manifest's ledger head (block ${m.ledger.blockId}) is not in this store's chain: there is no such block. The store was rewritten, or this is another store.`,
    'Check the manifest against the store it was made from; run `consent ledger verify`.',
  );
}

/** The audience's ids at the moment, ascending (in memory: a proof needs its neighbours). */
export async function audienceIds(store: ConsentStore, channel: ContactChannel, moment: Moment): Promise<number[]> {
  const ids: number[] = [];
  for await (const page of store.asOf.audience(channel, moment)) for (const p of page) ids.push(p.id);
  return ids;
}

export function rootOf(ids: readonly number[]): string {
  const tree = new MerkleBuilder();
  for (const id of ids) tree.add(id);
  return tree.root();
}

export interface Proof {
  profileId: number;
  member: boolean;
  channel: ContactChannel;
  ledger: Manifest['ledger'];
  root: string;
  /** Why, from the replay at the manifest's head. */
  why: string;
  decidingEvents: number[];
  /** For a member: its leaf index among `size` leaves and its RFC 6962 audit path (hex, leaf upwards). */
  leafIndex: number | null;
  size: number;
  path: string[] | null;
  /** The path checked against the manifest's root. */
  verified: boolean;
}

/** `audience prove`: recomputes the audience at the manifest's head (it must give the manifest's root) and proves one profile in or out. */
export async function proveMember(store: ConsentStore, m: Manifest, profile: Profile): Promise<Proof> {
  const moment = await manifestMoment(store, m);
  const channel = m.filter.reachable;
  const ids = await audienceIds(store, channel, moment);
  const root = rootOf(ids);
  if (root !== m.digest.root || ids.length !== m.count) throw rootMismatch(m, root, ids.length);
  const state = await profileAsOf(store, profile, moment);
  const index = ids.indexOf(profile.id);
  const ch = state.channels[channel];
  const path = index >= 0 ? auditPath(ids, index) : null;
  return {
    profileId: profile.id,
    member: index >= 0,
    channel,
    ledger: m.ledger,
    root,
    why: ch.why,
    decidingEvents: ch.decidingEvents,
    leafIndex: index >= 0 ? index : null,
    size: ids.length,
    path,
    verified: path !== null ? verifyInclusion(profile.id, index, ids.length, path, m.digest.root) : ids.length === 0 ? root === EMPTY_ROOT : true,
  };
}

function rootMismatch(m: Manifest, root: string, count: number): ConsentError {
  return new ConsentError(
    'integrity',
    `The audience recomputed at the manifest's ledger head (block ${m.ledger.blockId}) is not the manifest's: ${count} profile(s), root ${root.slice(0, 12)}…, where the manifest says ${m.count}, root ${m.digest.root.slice(0, 12)}….`,
    'The manifest was altered, or the store was changed behind the tool (run `consent ledger verify`).',
  );
}

export interface Verification {
  ok: true;
  count: number;
  root: string;
  ledger: Manifest['ledger'];
  file: { path: string; rows: number; sha256: string } | null;
}

/** `audience verify`: the audience at the manifest's head gives its count and root; a file given holds exactly its ids. */
export async function verifyManifest(
  store: ConsentStore,
  m: Manifest,
  file: { path: string; sha256: string; ids: number[] | null; unknown: string[] } | null,
): Promise<Verification> {
  const moment = await manifestMoment(store, m);
  const ids = await audienceIds(store, m.filter.reachable, moment);
  const root = rootOf(ids);
  if (root !== m.digest.root || ids.length !== m.count) throw rootMismatch(m, root, ids.length);
  if (file) {
    if (m.file && m.file.sha256 !== file.sha256) {
      throw new ConsentError('integrity', `${file.path} is not the exported file: its SHA-256 is ${file.sha256.slice(0, 12)}…, the manifest's ${m.file.sha256.slice(0, 12)}….`, 'Give the file written with the manifest.');
    }
    if (file.unknown.length > 0) {
      throw new ConsentError('integrity', `${file.path}: ${file.unknown.length} row(s) name no profile of this store (the first: line ${file.unknown[0]}).`);
    }
    const have = [...(file.ids ?? [])].sort((a, b) => a - b);
    const want = new Set(ids);
    const extra = have.filter((id) => !want.has(id));
    const got = new Set(have);
    const lacking = ids.filter((id) => !got.has(id));
    if (extra.length > 0 || lacking.length > 0 || have.length !== ids.length) {
      throw new ConsentError(
        'integrity',
        `${file.path} is not the audience: ${extra.length} profile(s) not in it (${extra.slice(0, 5).join(', ')}), ${lacking.length} missing (${lacking.slice(0, 5).join(', ')})${have.length !== new Set(have).size ? ', some rows twice' : ''}.`,
      );
    }
  }
  return { ok: true, count: ids.length, root, ledger: m.ledger, file: file ? { path: file.path, rows: file.ids?.length ?? 0, sha256: file.sha256 } : null };
}
