import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCsv } from '../src/imports/csv-source.js';
import { tempDir } from './helpers/run-cli.js';

describe('readCsv', () => {
  it('stops reading while a batch is being handled, so memory stays flat with a slow writer', async () => {
    const file = join(tempDir(), 'rows.csv');
    const row = 'someone@example.com,+33612345678,First,Last,1,0\n'; // fixed width
    writeFileSync(file, 'email,phone,first_name,last_name,optout_all,optout_email\n' + row.repeat(200_000));
    let records = 0;
    let maxLag = 0;
    await readCsv(createReadStream(file), {
      delimiter: ',',
      onRecords: async (batch, bytesRead) => {
        records += batch.length;
        maxLag = Math.max(maxLag, bytesRead - records * row.length);
        await new Promise((r) => setTimeout(r, 1)); // a writer slower than the disk
      },
    });
    expect(records).toBe(200_001);
    // Read-ahead is bounded by a few stream chunks (64 KiB each), not the 9 MiB file.
    expect(maxLag).toBeLessThan(1 << 20);
  });
});
