/**
 * The rules of the change feed's reachableAfter and the check API's answer
 * (src/consent/feed.ts, reach-check.ts) under both consent bases (shared
 * decisions 1-2): pure functions, so the opt-in basis is checked here too,
 * before any command writes a `policy` event.
 */
import { describe, expect, it } from 'vitest';
import { noOptOuts } from '../src/consent/channels.js';
import { basisAt, reachableAfterPage, type FeedRow } from '../src/consent/feed.js';
import type { Profile } from '../src/consent/profile.js';
import { checkReachable, type ReachFacts } from '../src/consent/reach-check.js';

const row = (id: number, channel: string, action: string, profileId: number | null = 1): FeedRow => ({
  id, profileId, channel: channel as FeedRow['channel'], service: null, action, source: 'operator', actor: 'op', occurredAt: 't', blockId: id, blockHash: 'h', email: 'a@x.io', phone: null, erased: false,
});

describe('reachableAfter', () => {
  it('replays flags, grants, erasure and the basis as of each event', () => {
    const rows = [row(1, 'email', 'optout'), row(2, 'email', 'optin'), row(4, 'sms', 'optout'), row(5, 'email', 'optin', 2), row(6, 'all', 'erase')];
    const trail = rows.filter((r) => r.profileId !== null).map((r) => ({ id: r.id, profileId: r.profileId!, channel: r.channel, action: r.action }));
    const policies = [{ id: 3, channel: 'sms', basis: 'opt-in' as const }];
    expect(reachableAfterPage(rows, trail, policies, new Map(), null)).toEqual([false, true, false, true, false]);
    // sms under opt-in from event 3: profile 1 never granted sms; profile 2 neither.
    expect(reachableAfterPage(rows, trail, policies, new Map(), 'sms')).toEqual([true, true, false, false, false]);
    // A suppression in force now blocks its channel on every line.
    expect(reachableAfterPage(rows.slice(0, 2), trail, [], new Map([[1, [{ channel: 'email' }]]]), 'email')).toEqual([false, false]);
    expect(basisAt(policies, 'sms', 2)).toBe('opt-out');
    expect(basisAt(policies, 'sms', 3)).toBe('opt-in');
  });
});

describe('checkReachable', () => {
  const ann: Profile = { id: 1, email: 'ann@x.io', phone: null, firstName: null, lastName: null, optOut: noOptOuts(), createdAt: 't', updatedAt: 't', erasedAt: null };
  const facts = (basis: 'opt-in' | 'opt-out', granted: boolean): ReachFacts => ({
    basis,
    profiles: [[ann], []],
    last: new Map(granted ? [[1, { email: { action: 'optin' as const, occurredAt: 't1', source: 'landing:join@v1' } }]] : []),
    suppressions: new Map(),
    subscriptions: null,
  });
  const lookups = [{ kind: 'email' as const, value: 'ann@x.io' }, { kind: 'email' as const, value: 'new@x.io' }];
  it('under opt-out: known and unknown are reachable', () => {
    expect(checkReachable(lookups, 'email', facts('opt-out', false)).map((r) => r.reachable)).toEqual([true, true]);
  });
  it('under opt-in: only a grant makes a person reachable; an unknown address never is', () => {
    const [known, unknown] = checkReachable(lookups, 'email', facts('opt-in', false));
    expect(known).toEqual({ reachable: false, reasons: [{ kind: 'not-granted', channel: 'email', since: null, source: null }] });
    expect(unknown!.reachable).toBe(false);
    expect(unknown!.reasons.map((r) => r.kind)).toEqual(['unknown-profile', 'not-granted']);
    expect(checkReachable(lookups, 'email', facts('opt-in', true))[0]).toEqual({ reachable: true, reasons: [] });
  });
});
