/**
 * The reads of a listing's page (lastChangesOf, subscriptionsOfMany): rows of
 * several profiles, in the order the query gave them, grouped by profile
 * id, with an entry (`empty()`) for every id asked even when it has no row.
 */
export function byProfile<R extends { profile_id: number | null }, V>(
  ids: readonly number[],
  rows: readonly R[],
  empty: () => V,
  add: (into: V, row: R) => void,
): Map<number, V> {
  const out = new Map<number, V>();
  for (const id of ids) out.set(id, empty());
  for (const r of rows) {
    if (r.profile_id === null) continue; // an address event (suppression) belongs to no profile
    const v = out.get(r.profile_id);
    if (v !== undefined) add(v, r);
  }
  return out;
}
