// The commit cadence (issue 12): while other requests are in flight, commits
// start at most every minIntervalMs, so that submissions spread over that time
// share one fsync; with nothing else in flight a submission commits at once.
import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../src/landing/group-commit.js';
import type { ConsentGroup, ConsentGroupResult } from '../src/landing/submissions.js';

const group = (profileId: number): ConsentGroup => ({ requests: [{ profileId, wanted: { all: true } }], context: { source: 't', actor: 't', occurredAt: 'x' } });
const result = (g: ConsentGroup): ConsentGroupResult => ({ consent: g.requests.map((r) => ({ profile: { id: r.profileId } as never, changes: [] })), subscriptions: [] });
const turn = () => new Promise((r) => setImmediate(r));

describe('group commit cadence', () => {
  it('with other requests in flight, submissions of successive turns within the interval share one commit; each answered only after it', async () => {
    const calls: number[][] = [];
    const c = new GroupCommitter(async (groups) => (calls.push(groups.map((g) => g.requests[0]!.profileId)), groups.map(result)), 500, {
      minIntervalMs: 40,
      othersInFlight: () => true,
      clock: () => performance.now(),
    });
    const first = c.submit(group(1)); // the first commit may start at once: none before it
    await first;
    const settled: number[] = [];
    const later = [2, 3, 4].map((id) => c.submit(group(id)).then(() => settled.push(id)));
    await turn();
    const fifth = c.submit(group(5)).then(() => settled.push(5));
    await turn();
    expect(settled).toEqual([]); // not committed yet: not answered yet
    await Promise.all([...later, fifth]);
    expect(calls).toEqual([[1], [2, 3, 4, 5]]);
    expect(c.stats).toMatchObject({ commits: 2, submissions: 5 });
  });

  it('when only submissions are in flight, or on drain, nothing waits', async () => {
    const calls: number[] = [];
    let others = true;
    const c = new GroupCommitter(async (groups) => (calls.push(groups.length), groups.map(result)), 500, {
      minIntervalMs: 60_000,
      othersInFlight: () => others,
      clock: () => performance.now(),
    });
    await c.submit(group(1));
    const t0 = performance.now();
    const waiting = c.submit(group(2)); // others in flight: would wait a minute
    await turn();
    others = false;
    await Promise.all([waiting, c.submit(group(3))]); // nothing else in flight: at once, with the one waiting
    expect(calls).toEqual([1, 2]);
    others = true;
    const queued = c.submit(group(4));
    await c.drain(); // closing: committed now, not a minute later
    await queued;
    expect(calls).toEqual([1, 2, 1]);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
