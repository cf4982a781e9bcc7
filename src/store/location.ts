/**
 * Store locations: a `postgres://` or `postgresql://` URL names a PostgreSQL
 * database, anything else a SQLite file. Pure string work, shared by the CLI
 * (which resolves file paths only) and the stores.
 */

export function isPostgresLocation(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/**
 * The location as it may be shown anywhere (errors, logs, --json, startup
 * lines): a URL's password, in the user-info part or as a `password=`
 * parameter, is replaced by `***`. Paths are returned unchanged.
 */
export function maskLocation(location: string): string {
  if (!isPostgresLocation(location)) return location;
  return location
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:***@')
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** `host:port/database` of a PostgreSQL URL, for messages (no user, no password). */
export function describeServer(location: string): string {
  try {
    const u = new URL(location);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${host}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1)) || '(default database)'}`;
  } catch {
    return maskLocation(location);
  }
}
