import { parseAsOf, type Moment } from '../../../consent/as-of.js';
import { audienceProfiles, momentOf } from '../../../consent/audience.js';
import type { ContactChannel } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import type { MerkleBuilder } from '../../../consent/merkle.js';
import type { Profile } from '../../../consent/profile.js';
import type { ConsentStore } from '../../../consent/store.js';
import type { CommandContext } from '../../context.js';

/** `--as-of` (and `--manifest`) take `--reachable <channel>` and no other filter: the audience replayed at a position. */
export function asOfChannel(o: Record<string, unknown>, flag: string): ContactChannel {
  if (typeof o.reachable !== 'string') throw invalid(`${flag} needs --reachable <channel>: it replays an audience.`, `Add e.g. --reachable email.`);
  for (const other of ['unreachable', 'optedOut', 'subscribed'] as const) {
    if (o[other] !== undefined) throw invalid(`${flag} takes --reachable only, not --${other.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)}.`);
  }
  return o.reachable as ContactChannel;
}

/** The moment of `--as-of` if given, else the head now. */
export async function asOfMoment(ctx: CommandContext, store: ConsentStore, o: Record<string, unknown>): Promise<Moment> {
  const moment = await momentOf(store, typeof o.asOf === 'string' ? parseAsOf(o.asOf) : null, ctx.nowIso());
  if (typeof o.asOf === 'string') ctx.notice(`As of ${moment.at}: the ledger up to event ${moment.position.eventId} (block ${moment.position.blockId}).`);
  return moment;
}

/** The profiles of the audience at `--as-of`, in id order, at most `limit`. */
export async function asOfProfiles(
  ctx: CommandContext,
  store: ConsentStore,
  o: Record<string, unknown>,
  limit?: number,
  tree?: MerkleBuilder,
  given?: Moment,
): Promise<AsyncIterable<Profile>> {
  const channel = asOfChannel(o, '--as-of');
  const moment = given ?? (await asOfMoment(ctx, store, o));
  return (async function* () {
    let n = 0;
    for await (const p of audienceProfiles(store, channel, moment, tree)) {
      if (limit !== undefined && n++ >= limit) return;
      yield p;
    }
  })();
}
