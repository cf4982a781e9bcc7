/**
 * The digest of an audience: a Merkle tree over its profile ids, sorted
 * ascending, with RFC 6962 (Certificate Transparency) hashing:
 * - leaf   = SHA-256(0x00 || "consent-audience-v1:" || decimal id in ASCII)
 * - node   = SHA-256(0x01 || left || right)
 * - the tree of n leaves splits at k, the largest power of two below n
 *   (left: the first k leaves, right: the rest); the root of no leaf is SHA-256("").
 * The 0x00 / 0x01 prefixes keep a leaf from ever passing for a node; the tag
 * keeps a leaf of this tree from passing for one of another use.
 * A member's proof is its audit path (RFC 6962 §2.1.1), checked by
 * verifyInclusion (RFC 9162 §2.1.3.2).
 */
import { createHash } from 'node:crypto';

export const LEAF_TAG = 'consent-audience-v1:';
const sha = (...parts: (Buffer | string)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export const leafHash = (id: number): Buffer => sha(LEAF, LEAF_TAG, String(id));
export const nodeHash = (left: Buffer, right: Buffer): Buffer => sha(NODE, left, right);
export const EMPTY_ROOT = sha('').toString('hex');

/** The root of ids given in ascending order, in O(log n) memory (a stack of perfect subtrees). */
export class MerkleBuilder {
  private readonly stack: { size: number; hash: Buffer }[] = [];
  private last = -Infinity;
  count = 0;
  add(id: number): void {
    if (!(id > this.last)) throw new Error(`audience ids must be strictly ascending: ${id} after ${this.last}`);
    this.last = id;
    this.count++;
    let top = { size: 1, hash: leafHash(id) };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === top.size) {
      const left = this.stack.pop()!;
      top = { size: left.size * 2, hash: nodeHash(left.hash, top.hash) };
    }
    this.stack.push(top);
  }
  /** The stack holds n's binary decomposition, largest first: folded from the right it is RFC 6962's tree. */
  root(): string {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let h = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) h = nodeHash(this.stack[i]!.hash, h);
    return h.toString('hex');
  }
}

const splitOf = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

function subtreeRoot(leaves: readonly Buffer[], lo: number, hi: number): Buffer {
  if (hi - lo === 1) return leaves[lo]!;
  const k = splitOf(hi - lo);
  return nodeHash(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi));
}

/** RFC 6962's PATH(m, D[n]): the sibling hashes from the leaf up, as hex. */
export function auditPath(ids: readonly number[], index: number): string[] {
  const leaves = ids.map(leafHash);
  const path: Buffer[] = [];
  const walk = (m: number, lo: number, hi: number) => {
    if (hi - lo <= 1) return;
    const k = splitOf(hi - lo);
    if (m < k) {
      walk(m, lo, lo + k);
      path.push(subtreeRoot(leaves, lo + k, hi));
    } else {
      walk(m - k, lo + k, hi);
      path.push(subtreeRoot(leaves, lo, lo + k));
    }
  };
  walk(index, 0, leaves.length);
  return path.map((b) => b.toString('hex'));
}

/** RFC 9162 §2.1.3.2: does `path` take leaf `index` of a tree of `size` leaves holding `id` to `root`? */
export function verifyInclusion(id: number, index: number, size: number, path: readonly string[], root: string): boolean {
  if (index >= size || index < 0) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(id);
  for (const hex of path) {
    const p = Buffer.from(hex, 'hex');
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else r = nodeHash(r, p);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.toString('hex') === root;
}
