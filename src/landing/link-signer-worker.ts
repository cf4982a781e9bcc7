/**
 * A signing thread of link-signer-pool.ts: signs the tokens of each page of
 * ids it is sent and sends them back as bytes (TOKEN_BYTES per id), with the
 * ids, both handed over without a copy; a page the main thread has already
 * taken (see claimValue) is answered as skipped. Pages are answered in the order received.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { linkTokenSigner, type LinkLineSpec } from './link-lines.js';
import { claimValue } from './link-signer-pool.js';

const port = parentPort!;
const { spec, claims, slots } = workerData as { spec: LinkLineSpec; claims: Int32Array; slots: number };
const sign = linkTokenSigner(spec);
port.on('message', (m: { seq: number; ids: Float64Array }) => {
  try {
    if (Atomics.compareExchange(claims, m.seq % slots, claimValue.open(m.seq), claimValue.thread(m.seq)) !== claimValue.open(m.seq)) {
      port.postMessage({ seq: m.seq });
      return;
    }
    const tokens = sign(m.ids);
    port.postMessage({ seq: m.seq, ids: m.ids, tokens }, [tokens.buffer as ArrayBuffer, m.ids.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ seq: m.seq, error: (e as Error)?.message ?? String(e) });
  }
});
