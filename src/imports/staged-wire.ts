/**
 * Staged rows as they cross from the parser thread to the main thread. A
 * postMessage of the rows' values array (six per row, strings, numbers and
 * nulls) cost the parser thread more than a tenth of its time in structured
 * cloning, and both threads the garbage of a million small objects; one string
 * (the four text fields of every row, joined by NUL) and one Int32Array of
 * masks (transferred, not copied) are cloned at the cost of a copy.
 *
 * Empty text stands for null: a staged email is never empty, and the phone
 * and names are null rather than empty. A batch whose input holds a NUL
 * character cannot be joined this way and crosses as it is.
 */
import { STAGED_WIDTH, type StagedBatch } from '../consent/bulk.js';

export type WireBatch = StagedBatch | { rows: number; text: string; masks: Int32Array };

const SEP = '\u0000';

/** The batch for postMessage; `mayHoldNul`: the input read so far had a NUL character. */
export function toWire(batch: StagedBatch, mayHoldNul: boolean): { wire: WireBatch; transfer: ArrayBuffer[] } {
  if (mayHoldNul || batch.rows === 0) return { wire: batch, transfer: [] };
  const v = batch.values;
  const texts = new Array<string>(batch.rows * 4);
  const masks = new Int32Array(batch.rows * 2);
  for (let r = 0, i = 0; r < batch.rows; r++, i += STAGED_WIDTH) {
    texts[4 * r] = v[i] as string;
    texts[4 * r + 1] = (v[i + 1] as string | null) ?? '';
    texts[4 * r + 2] = (v[i + 2] as string | null) ?? '';
    texts[4 * r + 3] = (v[i + 3] as string | null) ?? '';
    masks[2 * r] = v[i + 4] as number;
    masks[2 * r + 1] = v[i + 5] as number;
  }
  return { wire: { rows: batch.rows, text: texts.join(SEP), masks }, transfer: [masks.buffer] };
}

export function fromWire(wire: WireBatch): StagedBatch {
  if (!('text' in wire)) return wire;
  const texts = wire.text.split(SEP);
  if (texts.length !== wire.rows * 4) throw new Error(`staged batch of ${wire.rows} rows came with ${texts.length} fields`);
  const values = new Array<string | number | null>(wire.rows * STAGED_WIDTH);
  const m = wire.masks;
  for (let r = 0, i = 0; r < wire.rows; r++, i += STAGED_WIDTH) {
    values[i] = texts[4 * r]!;
    values[i + 1] = texts[4 * r + 1] || null;
    values[i + 2] = texts[4 * r + 2] || null;
    values[i + 3] = texts[4 * r + 3] || null;
    values[i + 4] = m[2 * r]!;
    values[i + 5] = m[2 * r + 1]!;
  }
  return { rows: wire.rows, values };
}
