// A writer process for the concurrency tests: opens the store through the
// built code, then runs `writers` concurrent writers, each applying its
// requests in a loop of `rounds`; prints how many changes it recorded.
import { openStore } from '../../dist/store/index.js';

const [location, spec] = process.argv.slice(2);
const { writers } = JSON.parse(spec);
const store = await openStore(location, { busyTimeoutMs: 20000 });
let changes = 0;
try {
  await Promise.all(
    writers.map(async (w) => {
      for (const wanted of w.rounds) {
        const [r] = await store.applyConsent([{ profileId: w.profileId, wanted }], {
          source: 'contract', actor: `writer-${w.name}`, occurredAt: new Date().toISOString(),
        });
        changes += r.changes.length;
      }
    }),
  );
  process.stdout.write(JSON.stringify({ changes }) + '\n');
} finally {
  await store.close();
}
