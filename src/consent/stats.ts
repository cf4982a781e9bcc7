/**
 * The overview of a store (`consent stats`, `consent report`): what the
 * stores count (set-based, in SQL) and the pure shaping of those counts into
 * the figures and weekly series an operator reads. No I/O here.
 *
 * Reachable counts come from THE reachability rule: the stores count profiles
 * per consent state and the suppressed per state, and countsFromStates applies
 * the domain's `reachability` (the mirror of reachableSql) to the groups, so
 * they equal `profile list --reachable c` (test/stats-reachable.test.ts).
 */
import { CHANNELS, CONTACT_CHANNELS, noOptOuts, type Channel, type ContactChannel, type OptOutFlags } from './channels.js';
import { invalid } from './errors.js';
import { noGrants, type Bases, type GrantFlags } from './policy.js';
import { isOptedOut, reachability } from './profile.js';
import type { ServiceSummary } from './services.js';

/** Where a consent change came from, as the ledger's `source` says it (see sourceKind). */
export const SOURCE_KINDS = ['operator', 'import', 'page', 'one-click', 'sms', 'feedback', 'other'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/**
 * The writers' `source` values, grouped: `operator` (every operator command,
 * `blocklist all` too), `import:<file>`, `landing:<slug>@v<n>` and
 * `confirm:<service>` (a page the person used), `one-click` (RFC 8058 POST),
 * `sms:<number>` (STOP/START replies and their review), `feedback:<file>`
 * (mailbox providers' complaints). Anything else is `other`, never dropped.
 */
export function sourceKind(source: string): SourceKind {
  if (source === 'operator') return 'operator';
  if (source === 'one-click') return 'one-click';
  if (source.startsWith('import:')) return 'import';
  if (source.startsWith('landing:') || source.startsWith('confirm:')) return 'page';
  if (source.startsWith('sms:')) return 'sms';
  if (source === 'feedback' || source.startsWith('feedback:')) return 'feedback';
  return 'other';
}

/** One contact channel's counts now. `suppressed` is null where the channel has no suppression list. */
export interface ChannelCounts {
  reachable: number;
  optedOut: number;
  suppressed: number | null;
  erased: number;
}

/** What a store counts in one scan of its profiles. */
export interface ProfileCounts {
  profiles: number;
  erased: number;
  /** `all`: profiles with the `all` flag; each contact channel: its ChannelCounts. */
  optedOutAll: number;
  channels: Record<ContactChannel, ChannelCounts>;
}

/**
 * A profile's consent state as one integer, as the stores index it
 * (migration 14, profiles_consent_state): bit 0 optout_all, bits 1–6
 * optout_<c> and bits 7–12 granted_<c> in CONTACT_CHANNELS order, bit 13
 * erased. A store counts its profiles per state (a few dozen groups).
 */
export const STATE_BITS = { optOut: (c: Channel) => (c === 'all' ? 0 : 1 + CONTACT_CHANNELS.indexOf(c)), granted: (c: ContactChannel) => 7 + CONTACT_CHANNELS.indexOf(c), erased: 13 } as const;

/** How many profiles have this state mask. */
export interface StateGroup {
  mask: number;
  count: number;
}

/** The channels with a suppression list, and the profile address each is matched on. */
export const SUPPRESSIBLE_CHANNELS = ['email', 'sms', 'phone'] as const satisfies readonly ContactChannel[];
export type SuppressibleChannel = (typeof SUPPRESSIBLE_CHANNELS)[number];

export function decodeState(mask: number): { optOut: OptOutFlags; granted: GrantFlags; erased: boolean } {
  const bit = (i: number) => (mask & (1 << i)) !== 0;
  const optOut = noOptOuts();
  for (const c of CHANNELS) optOut[c] = bit(STATE_BITS.optOut(c));
  const granted = noGrants();
  for (const c of CONTACT_CHANNELS) granted[c] = bit(STATE_BITS.granted(c));
  return { optOut, granted, erased: bit(STATE_BITS.erased) };
}

/**
 * The counts of `consent stats` from the stores' groups, by the domain's
 * reachability rule (`reachability`, the mirror of reachableSql):
 * `groups`, every profile per state; `suppressed[c]`, the profiles whose
 * address for c has a suppression entry in force, per state. Reachable on c =
 * the profiles the rule admits without a suppression, less the suppressed
 * ones among them.
 */
export function countsFromStates(groups: readonly StateGroup[], suppressed: Record<SuppressibleChannel, readonly StateGroup[]>, bases: Bases): ProfileCounts {
  const out: ProfileCounts = {
    profiles: 0,
    erased: 0,
    optedOutAll: 0,
    channels: Object.fromEntries(
      CONTACT_CHANNELS.map((c) => [c, { reachable: 0, optedOut: 0, suppressed: (SUPPRESSIBLE_CHANNELS as readonly string[]).includes(c) ? 0 : null, erased: 0 }]),
    ) as ProfileCounts['channels'],
  };
  const reach = (mask: number) => {
    const s = decodeState(mask);
    return { s, r: reachability(s.optOut, [], s.erased ? 'erased' : null, { bases, granted: s.granted }) };
  };
  for (const g of groups) {
    const { s, r } = reach(g.mask);
    out.profiles += g.count;
    if (s.erased) out.erased += g.count;
    if (s.optOut.all) out.optedOutAll += g.count;
    for (const c of CONTACT_CHANNELS) {
      if (isOptedOut(s.optOut, c)) out.channels[c].optedOut += g.count;
      if (r[c]) out.channels[c].reachable += g.count;
    }
  }
  for (const c of SUPPRESSIBLE_CHANNELS) {
    for (const g of suppressed[c]) {
      out.channels[c].suppressed! += g.count;
      if (reach(g.mask).r[c]) out.channels[c].reachable -= g.count;
    }
  }
  for (const c of CONTACT_CHANNELS) out.channels[c].erased = out.erased;
  return out;
}

/** Channel opt-out/opt-in events (service NULL) of one day, channel and source. */
export interface ChangeRow {
  /** YYYY-MM-DD (UTC) of occurred_at. */
  day: string;
  channel: Channel;
  action: 'optout' | 'optin';
  source: string;
  count: number;
}

/** Unsubscribe-survey answers (`reason` events) by coded reason. */
export interface ReasonRow {
  code: string;
  count: number;
}

/** How long opt-outs took from the person's request (occurred_at) to the block that recorded them. */
export interface DelayRow {
  kind: SourceKind;
  bucket: DelayBucket;
  count: number;
  maxSeconds: number;
}

export const DELAY_BUCKETS = ['under-1s', 'under-1min', 'under-1h', 'under-1d', 'under-2d', 'under-14d', 'later'] as const;
export type DelayBucket = (typeof DELAY_BUCKETS)[number];
/** Upper bounds (seconds, exclusive) of DELAY_BUCKETS but the last. */
export const DELAY_BOUNDS = [1, 60, 3600, 86_400, 2 * 86_400, 14 * 86_400] as const;

/**
 * What the overview needs from a store; every count is one set-based query
 * (see src/store/shared/stats-sql.ts). `since`/`until` are ISO times.
 */
export interface StatsRepository {
  /** One scan of profiles, at the store's "now" (the same now as `profile list`). */
  profileCounts(): Promise<ProfileCounts>;
  changes(since: string, until: string): Promise<ChangeRow[]>;
  reasons(since: string, until: string): Promise<ReasonRow[]>;
  delays(since: string, until: string): Promise<DelayRow[]>;
}

/** `--since 30d` (days) or `--since 6w` (weeks), at most ten years: the start of the period before `now`. */
export function periodStart(text: string, now: Date, flag = '--since'): string {
  const m = /^(\d{1,4})([dw])$/.exec(text.trim());
  const days = m ? Number(m[1]) * (m[2] === 'w' ? 7 : 1) : NaN;
  if (!m || days < 1 || days > 3660) {
    throw invalid(`Invalid ${flag} "${text}": give a number of days or weeks, e.g. 30d or 12w (at most 3660 days).`);
  }
  return new Date(now.getTime() - days * 86_400_000).toISOString();
}

const DAY = 86_400_000;
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The Monday (UTC) of the ISO week holding this day (YYYY-MM-DD). */
export function weekStart(day: string): string {
  const t = Date.parse(`${day}T00:00:00Z`);
  const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday 0
  return dayOf(t - dow * DAY);
}

/** The Mondays of every week from the one holding `since` to the one holding `until`. */
export function weeksBetween(since: string, until: string): string[] {
  const out: string[] = [];
  const last = weekStart(until.slice(0, 10));
  for (let w = weekStart(since.slice(0, 10)); w <= last; w = dayOf(Date.parse(`${w}T00:00:00Z`) + 7 * DAY)) out.push(w);
  return out;
}

/**
 * The exclusive end dates of the replay: each week's end (the next Monday),
 * the last one being tomorrow when the week is not over (the state now).
 */
/** "As of" each end (YYYY-MM-DD, exclusive): its midnight UTC, the time `--as-of <end>` names. */
export const endMoment = (end: string) => `${end}T00:00:00.000Z`;

export function replayEnds(weeks: readonly string[], until: string): string[] {
  const tomorrow = dayOf(Date.parse(`${until.slice(0, 10)}T00:00:00Z`) + DAY);
  return weeks.map((w) => {
    const next = dayOf(Date.parse(`${w}T00:00:00Z`) + 7 * DAY);
    return next < tomorrow ? next : tomorrow;
  });
}

export type KindCounts = Record<SourceKind, number>;
export type ChannelTally = Record<Channel, number>;

const zeroKinds = (): KindCounts => Object.fromEntries(SOURCE_KINDS.map((k) => [k, 0])) as KindCounts;
const zeroChannels = (): ChannelTally => Object.fromEntries(CHANNELS.map((c) => [c, 0])) as ChannelTally;

export interface PeriodChanges {
  total: number;
  bySource: KindCounts;
  byChannel: ChannelTally;
}

/** `consent stats --json`: a stable shape. */
export interface Overview {
  at: string;
  profiles: number;
  erased: number;
  optedOutAll: number;
  channels: Record<ContactChannel, ChannelCounts>;
  services: { name: string; channel: ContactChannel; subscribed: number; pending: number; receiving: number }[];
  period: { since: string; until: string; optOuts: PeriodChanges; optIns: PeriodChanges };
}

function tallies(rows: readonly ChangeRow[], action: ChangeRow['action']): PeriodChanges {
  const out: PeriodChanges = { total: 0, bySource: zeroKinds(), byChannel: zeroChannels() };
  for (const r of rows) {
    if (r.action !== action) continue;
    out.total += r.count;
    out.bySource[sourceKind(r.source)] += r.count;
    out.byChannel[r.channel] += r.count;
  }
  return out;
}

export function overview(at: string, since: string, counts: ProfileCounts, services: readonly ServiceSummary[], changes: readonly ChangeRow[]): Overview {
  return {
    at,
    profiles: counts.profiles,
    erased: counts.erased,
    optedOutAll: counts.optedOutAll,
    channels: counts.channels,
    services: services.map((s) => ({ name: s.name, channel: s.channel, subscribed: s.subscribers, pending: s.pending, receiving: s.receiving })),
    period: { since, until: at, optOuts: tallies(changes, 'optout'), optIns: tallies(changes, 'optin') },
  };
}

/** One value of a series, as `--format csv` writes it (series,period,key,value). */
export interface SeriesPoint {
  series: string;
  period: string;
  key: string;
  value: number;
}

/** Everything the report draws; every series is also a list of SeriesPoints (`seriesPoints`). */
export interface ReportData {
  at: string;
  since: string;
  weeks: string[];
  channels: readonly Channel[];
  contactChannels: readonly ContactChannel[];
  kinds: readonly SourceKind[];
  /** Per week (same order as weeks), per channel: opt-outs. */
  optOutsByChannel: Record<Channel, number[]>;
  optOutsBySource: Record<SourceKind, number[]>;
  optInsBySource: Record<SourceKind, number[]>;
  /**
   * Per week end (same order as weeks), per contact channel: reachable as
   * `profile list --reachable c --as-of <end>` counts it (the ledger up to
   * the end's position: flags, grants, bases, suppressions, erasure).
   */
  reachableOverTime: { ends: string[]; byChannel: Record<ContactChannel, number[]> };
  /** Now, by THE predicate (flags, erasure and the suppression list). */
  reachableNow: Record<ContactChannel, number>;
  profiles: number;
  services: Overview['services'];
  reasons: ReasonRow[];
  delays: { buckets: readonly DelayBucket[]; counts: number[]; total: number; maxSeconds: number; byKind: Partial<Record<SourceKind, { count: number; maxSeconds: number }>> };
}

export function reportData(input: {
  at: string;
  since: string;
  counts: ProfileCounts;
  services: readonly ServiceSummary[];
  changes: readonly ChangeRow[];
  /** reachableOverTime's counts at `ends` (store.asOf.reachableOverTime). */
  replay: Record<ContactChannel, number[]>;
  ends: readonly string[];
  reasons: readonly ReasonRow[];
  delays: readonly DelayRow[];
}): ReportData {
  const weeks = weeksBetween(input.since, input.at);
  const index = new Map(weeks.map((w, i) => [w, i]));
  const perWeek = () => weeks.map(() => 0);
  const optOutsByChannel = Object.fromEntries(CHANNELS.map((c) => [c, perWeek()])) as Record<Channel, number[]>;
  const optOutsBySource = Object.fromEntries(SOURCE_KINDS.map((k) => [k, perWeek()])) as Record<SourceKind, number[]>;
  const optInsBySource = Object.fromEntries(SOURCE_KINDS.map((k) => [k, perWeek()])) as Record<SourceKind, number[]>;
  for (const r of input.changes) {
    const i = index.get(weekStart(r.day));
    if (i === undefined) continue;
    if (r.action === 'optout') {
      optOutsByChannel[r.channel][i]! += r.count;
      optOutsBySource[sourceKind(r.source)][i]! += r.count;
    } else {
      optInsBySource[sourceKind(r.source)][i]! += r.count;
    }
  }
  const byChannel = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, input.ends.map((_, i) => input.replay[c]?.[i] ?? 0)])) as Record<ContactChannel, number[]>;
  const counts = DELAY_BUCKETS.map((b) => input.delays.filter((d) => d.bucket === b).reduce((s, d) => s + d.count, 0));
  const byKind: ReportData['delays']['byKind'] = {};
  for (const d of input.delays) {
    const k = (byKind[d.kind] ??= { count: 0, maxSeconds: 0 });
    k.count += d.count;
    k.maxSeconds = Math.max(k.maxSeconds, d.maxSeconds);
  }
  return {
    at: input.at,
    since: input.since,
    weeks,
    channels: CHANNELS,
    contactChannels: CONTACT_CHANNELS,
    kinds: SOURCE_KINDS,
    optOutsByChannel,
    optOutsBySource,
    optInsBySource,
    reachableOverTime: { ends: [...input.ends], byChannel },
    reachableNow: Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, input.counts.channels[c].reachable])) as Record<ContactChannel, number>,
    profiles: input.counts.profiles,
    services: overview(input.at, input.since, input.counts, input.services, []).services,
    reasons: [...input.reasons].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    delays: {
      buckets: DELAY_BUCKETS,
      counts,
      total: counts.reduce((s, n) => s + n, 0),
      maxSeconds: input.delays.reduce((m, d) => Math.max(m, d.maxSeconds), 0),
      byKind,
    },
  };
}

/** Every series of the report in the long form (series,period,key,value): weeks as their Monday, point-in-time series at the report's day, period series as since/until. */
export function seriesPoints(d: ReportData): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  const today = d.at.slice(0, 10);
  const interval = `${d.since.slice(0, 10)}/${today}`;
  const weekly = (series: string, table: Record<string, number[]>) => {
    for (const [key, values] of Object.entries(table)) values.forEach((value, i) => out.push({ series, period: d.weeks[i]!, key, value }));
  };
  weekly('optouts-by-channel', d.optOutsByChannel);
  weekly('optouts-by-source', d.optOutsBySource);
  weekly('optins-by-source', d.optInsBySource);
  for (const [key, values] of Object.entries(d.reachableOverTime.byChannel)) {
    // The state at the end of each week: the period is that end's date (exclusive midnight).
    values.forEach((value, i) => out.push({ series: 'reachable-replayed', period: d.reachableOverTime.ends[i]!, key, value }));
  }
  for (const [key, value] of Object.entries(d.reachableNow)) out.push({ series: 'reachable-now', period: today, key, value });
  for (const s of d.services) {
    out.push({ series: 'subscriptions', period: today, key: `${s.name}:subscribed`, value: s.subscribed });
    out.push({ series: 'subscriptions', period: today, key: `${s.name}:pending`, value: s.pending });
  }
  for (const r of d.reasons) out.push({ series: 'unsubscribe-reasons', period: interval, key: r.code, value: r.count });
  d.delays.buckets.forEach((b, i) => out.push({ series: 'optout-delay', period: interval, key: b, value: d.delays.counts[i]! }));
  return out;
}
