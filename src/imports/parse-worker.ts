/**
 * Parses and validates a file off the main thread, so that the main thread
 * only stages rows into SQLite: the two overlap on a multi-core machine.
 * At most IN_FLIGHT batches wait unacknowledged, so memory stays flat when
 * the writer is the slower side.
 */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { isConsentError } from '../consent/errors.js';
import { parseAndValidate, type ParseOptions } from './parse.js';
import { toWire } from './staged-wire.js';

const IN_FLIGHT = 4;
const { path, ...options } = workerData as { path: string } & ParseOptions;
const port = parentPort!;
let inFlight = 0;
let wake: (() => void) | null = null;
port.on('message', () => {
  inFlight--;
  wake?.();
  wake = null;
});

try {
  // Returns a promise only when it must wait: the reader then pauses.
  const result = await parseAndValidate(createReadStream(path), options, (batch) => {
    const { wire, transfer } = toWire(batch.staged, batch.sawNul);
    port.postMessage({ type: 'batch', batch: { ...batch, staged: wire } }, transfer);
    inFlight++;
    if (inFlight < IN_FLIGHT) return;
    return (async () => {
      while (inFlight >= IN_FLIGHT) await new Promise<void>((r) => (wake = r));
    })();
  });
  port.postMessage({ type: 'done', result });
} catch (e) {
  port.postMessage({
    type: 'error',
    error: isConsentError(e) ? { kind: e.kind, message: e.message, hint: e.hint } : { message: (e as Error).message ?? String(e) },
  });
}
port.close();
