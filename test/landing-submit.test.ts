import { describe, expect, it } from 'vitest';
import { ConsentError } from '../src/consent/errors.js';
import { GroupCommitter } from '../src/landing/group-commit.js';
import { parsePageDefinition } from '../src/landing/page.js';
import { wantedWithoutToken, wantedWithToken } from '../src/landing/submit.js';
import type { ConsentGroup, ConsentGroupResult } from '../src/landing/submissions.js';

const acq = (wording: 'consent' | 'optout') =>
  parsePageDefinition({ slug: 'p', type: 'acquisition', title: 'T', channels: ['email', 'sms'], wording });
const stop = parsePageDefinition({ slug: 's', type: 'blocklist', title: 'T' });

describe('what a submission asks for', () => {
  it('with a token: the page channels both ways; `all` only through its own shown box', () => {
    expect(wantedWithToken(acq('consent'), { 'channel-email': 'on', 'channel-fax': 'on', x: '1' })).toEqual({ email: false, sms: true });
    expect(wantedWithToken(acq('optout'), { 'channel-email': 'on' })).toEqual({ email: true, sms: false });
    expect(wantedWithToken(acq('consent'), { 'all-shown': '1' })).toEqual({ email: true, sms: true, all: false });
    expect(wantedWithToken(acq('consent'), { 'all-shown': '1', 'channel-all': 'on' })).toMatchObject({ all: true });
    expect(wantedWithToken(acq('consent'), {})).not.toHaveProperty('all');
    expect(wantedWithToken(stop, {})).toEqual({ all: true });
  });

  it('without a token: only opt-outs, never an opt-in', () => {
    expect(wantedWithoutToken(acq('consent'), { 'channel-email': 'on' })).toEqual({ sms: true });
    expect(wantedWithoutToken(acq('consent'), { 'channel-email': 'on', 'channel-sms': 'on' })).toEqual({});
    expect(wantedWithoutToken(acq('optout'), { 'channel-sms': 'on', 'all-shown': '1' })).toEqual({ sms: true });
    expect(wantedWithoutToken(stop, {})).toEqual({ all: true });
  });
});

describe('group commit', () => {
  const group = (profileId: number): ConsentGroup => ({
    requests: [{ profileId, wanted: { all: true } }],
    context: { source: 't', actor: 't', occurredAt: 'x' },
  });
  const result = (g: ConsentGroup): ConsentGroupResult => ({
    consent: g.requests.map((r) => ({ profile: { id: r.profileId } as never, changes: [] })),
    subscriptions: [],
  });

  it('submissions that arrive together share one apply call, and each gets its own result', async () => {
    const calls: number[] = [];
    const c = new GroupCommitter(async (groups) => (calls.push(groups.length), groups.map(result)));
    const answers = await Promise.all([1, 2, 3, 4].map((id) => c.submit(group(id))));
    expect(calls).toEqual([4]);
    expect(answers.map((a) => a.consent[0]!.profile.id)).toEqual([1, 2, 3, 4]);
    expect(c.stats).toEqual({ commits: 1, submissions: 4, changes: 0 });
  });

  it('one failing submission does not fail the others; a busy store fails the whole batch', async () => {
    const c = new GroupCommitter(async (groups) => {
      if (groups.some((g) => g.requests[0]!.profileId === 2)) throw new ConsentError('not-found', 'no 2');
      return groups.map(result);
    });
    const settled = await Promise.allSettled([1, 2, 3].map((id) => c.submit(group(id))));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);

    const busy = new GroupCommitter(async () => {
      throw new ConsentError('busy', 'locked');
    });
    const b = await Promise.allSettled([1, 2].map((id) => busy.submit(group(id))));
    expect(b.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    await busy.drain();
  });
});
