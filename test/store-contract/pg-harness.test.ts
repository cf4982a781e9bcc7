import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgTestDatabase } from '../helpers/pg.js';

describe('the PostgreSQL test server', () => {
  it('gives each caller its own empty database', async () => {
    const a = await pgTestDatabase();
    const b = await pgTestDatabase();
    expect(a).not.toBe(b);
    const c = new pg.Client({ connectionString: a });
    await c.connect();
    try {
      const r = await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
      expect(r.rows[0].n).toBe(0);
      expect((await c.query('SELECT current_database() AS d')).rows[0].d).toBe(new URL(a).pathname.slice(1));
    } finally {
      await c.end();
    }
  });
});
