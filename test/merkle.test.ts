/**
 * The audience digest's Merkle tree (src/consent/merkle.ts) against an
 * independent reading of RFC 6962 §2.1: the streaming root equals the
 * recursive MTH for every size up to 33, and every leaf's audit path verifies
 * while a wrong id, index or root does not
 * (the size is the manifest's count, checked on its own).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auditPath, EMPTY_ROOT, MerkleBuilder, verifyInclusion } from '../src/consent/merkle.js';

const sha = (...b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest();
const leaf = (id: number) => sha(Buffer.from([0]), Buffer.from(`consent-audience-v1:${id}`));
/** MTH(D[n]) as RFC 6962 writes it. */
function mth(ids: number[]): Buffer {
  if (ids.length === 0) return sha(Buffer.alloc(0));
  if (ids.length === 1) return leaf(ids[0]!);
  let k = 1;
  while (k * 2 < ids.length) k *= 2;
  return sha(Buffer.from([1]), mth(ids.slice(0, k)), mth(ids.slice(k)));
}

describe('audience Merkle tree (RFC 6962)', () => {
  it('streams the RFC root and proves every member, and only members', () => {
    expect(new MerkleBuilder().root()).toBe(EMPTY_ROOT);
    expect(EMPTY_ROOT).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let n = 1; n <= 33; n++) {
      const ids = Array.from({ length: n }, (_, i) => 3 * i + 7);
      const tree = new MerkleBuilder();
      for (const id of ids) tree.add(id);
      const root = tree.root();
      expect(root, `n=${n}`).toBe(mth(ids).toString('hex'));
      for (let i = 0; i < n; i++) {
        const path = auditPath(ids, i);
        expect(verifyInclusion(ids[i]!, i, n, path, root), `n=${n} i=${i}`).toBe(true);
        expect(verifyInclusion(ids[i]! + 1, i, n, path, root)).toBe(false);
        if (n > 1) expect(verifyInclusion(ids[i]!, (i + 1) % n, n, path, root)).toBe(false);
        expect(verifyInclusion(ids[i]!, i, n, path, EMPTY_ROOT)).toBe(false);
        expect(verifyInclusion(ids[i]!, n, n, path, root)).toBe(false);
      }
    }
    const t = new MerkleBuilder();
    t.add(5);
    expect(() => t.add(5)).toThrow(/strictly ascending/);
  });
});
