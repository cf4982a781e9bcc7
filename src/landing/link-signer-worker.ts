/**
 * A signing thread of link-signer-pool.ts: formats each page of ids and
 * emails it is sent into the text of its link lines, and sends it back as UTF-8
 * with the page's sequence number. Pages are answered in the order received.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { linkLineFormatter, type LinkLineSpec } from './link-lines.js';

const port = parentPort!;
const encoder = new TextEncoder();
const format = linkLineFormatter(workerData as LinkLineSpec);
port.on('message', (m: { seq: number; ids: Float64Array; emails: string[] }) => {
  try {
    // As UTF-8 bytes in a buffer of their own, handed over without a copy.
    const text = format(m.ids, m.emails);
    const bytes = typeof text === 'string' ? encoder.encode(text) : text;
    port.postMessage({ seq: m.seq, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ seq: m.seq, error: (e as Error)?.message ?? String(e) });
  }
});
