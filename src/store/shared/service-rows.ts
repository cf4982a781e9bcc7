import type { ContactChannel } from '../../consent/channels.js';
import type { Service, ServiceSummary } from '../../consent/services.js';
import { reachableSql } from './reachability-sql.js';

/** A `services` row and its summary query, the same SQL and mapping on both stores. */
export interface ServiceRow {
  id: number;
  name: string;
  label: string;
  description: string | null;
  channel: string;
  double_opt_in: number;
  created_at: string;
}

export const toService = (r: ServiceRow): Service => ({
  name: r.name,
  label: r.label,
  description: r.description,
  channel: r.channel as ContactChannel,
  doubleOptIn: r.double_opt_in === 1,
  createdAt: r.created_at,
});

// Counts per service; `receiving` joins the profile flags (an opt-out wins).
// `now`: the SQL time against which suppression expiries are judged (see reachableSql).
export const SUMMARY_SQL = (where: string, now: string) => `
  SELECT v.*,
    (SELECT count(*) FROM subscriptions s WHERE s.service_id = v.id AND s.status = 'subscribed') AS subscribers,
    (SELECT count(*) FROM subscriptions s WHERE s.service_id = v.id AND s.status = 'pending') AS pending,
    (SELECT count(*) FROM subscriptions s JOIN profiles p ON p.id = s.profile_id
      WHERE s.service_id = v.id AND s.status = 'subscribed' AND ${reachableSql({ sql: 'v.channel' }, 'p.', now)}) AS receiving
  FROM services v ${where} ORDER BY v.name`;

export type SummaryRow = ServiceRow & { subscribers: number; pending: number; receiving: number };
export const toSummary = (r: SummaryRow): ServiceSummary => ({ ...toService(r), subscribers: r.subscribers, pending: r.pending, receiving: r.receiving });
