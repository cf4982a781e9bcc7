/**
 * A signing thread of link-signer-pool.ts: formats each page of ids and
 * emails it is sent into the text of its link lines, and sends the text back
 * with the page's sequence number. Pages are answered in the order received.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { linkLineFormatter, type LinkLineSpec } from './link-lines.js';

const port = parentPort!;
const format = linkLineFormatter(workerData as LinkLineSpec);
port.on('message', (m: { seq: number; ids: Float64Array; emails: string[] }) => {
  try {
    port.postMessage({ seq: m.seq, text: format(m.ids, m.emails) });
  } catch (e) {
    port.postMessage({ seq: m.seq, error: (e as Error)?.message ?? String(e) });
  }
});
