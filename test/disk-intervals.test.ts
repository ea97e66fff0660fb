import { describe, expect, it } from 'vitest';
import { IntervalSet } from '../src/disk/intervals.js';
import { NamespaceTable, DEALLOC_CAP, MOD_LOG } from '../src/disk/ns-state.js';

/** A reference model: one boolean per block over a small space. */
class Naive {
  readonly bits: boolean[];
  constructor(n: number) {
    this.bits = new Array<boolean>(n).fill(false);
  }
  add(s: number, e: number): void {
    for (let i = s; i < e; i++) this.bits[i] = true;
  }
  sub(s: number, e: number): void {
    for (let i = s; i < e; i++) this.bits[i] = false;
  }
  covers(s: number, e: number): boolean {
    if (!(e > s)) return false;
    for (let i = s; i < e; i++) if (!this.bits[i]) return false;
    return true;
  }
  overlaps(s: number, e: number): boolean {
    for (let i = s; i < e; i++) if (this.bits[i]) return true;
    return false;
  }
}

/** Deterministic pseudo-random numbers (xorshift32), so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

describe('IntervalSet', () => {
  it('merges overlapping and touching ranges and keeps them sorted', () => {
    const s = new IntervalSet();
    s.add(10, 20);
    s.add(30, 40);
    s.add(20, 25);
    s.add(0, 5);
    expect(s.toArray()).toEqual([
      [0, 5],
      [10, 25],
      [30, 40],
    ]);
    s.add(4, 31);
    expect(s.toArray()).toEqual([[0, 40]]);
  });

  it('subtracts inside, across and around ranges', () => {
    const s = new IntervalSet();
    s.add(0, 100);
    s.subtract(10, 20);
    s.subtract(90, 200);
    s.subtract(-5, 2);
    expect(s.toArray()).toEqual([
      [2, 10],
      [20, 90],
    ]);
    expect(s.covers(2, 10)).toBe(true);
    expect(s.covers(2, 11)).toBe(false);
    expect(s.overlaps(9, 21)).toBe(true);
    expect(s.overlaps(10, 20)).toBe(false);
    s.clip(50);
    expect(s.toArray()).toEqual([
      [2, 10],
      [20, 50],
    ]);
  });

  it('agrees with a per-block model on random operations', () => {
    const r = rng(20261121);
    const N = 512;
    const s = new IntervalSet(10_000);
    const n = new Naive(N);
    for (let k = 0; k < 4000; k++) {
      const a = Math.floor(r() * N);
      const b = Math.min(N, a + 1 + Math.floor(r() * 40));
      if (r() < 0.55) {
        s.add(a, b);
        n.add(a, b);
      } else {
        s.subtract(a, b);
        n.sub(a, b);
      }
      const c = Math.floor(r() * N);
      const d = Math.min(N, c + 1 + Math.floor(r() * 16));
      expect(s.covers(c, d), `covers(${c}, ${d}) after op ${k}`).toBe(n.covers(c, d));
      expect(s.overlaps(c, d), `overlaps(${c}, ${d}) after op ${k}`).toBe(n.overlaps(c, d));
    }
    const arr = s.toArray();
    for (let i = 1; i < arr.length; i++) expect(arr[i]![0]).toBeGreaterThan(arr[i - 1]![1]);
  });

  it('stays within its cap by forgetting ranges, and only ever under-reports coverage', () => {
    const s = new IntervalSet(16);
    const n = new Naive(10_000);
    for (let i = 0; i < 200; i++) {
      // disjoint ranges of growing size: the set must drop the smallest
      s.add(i * 40, i * 40 + 1 + (i % 7));
      n.add(i * 40, i * 40 + 1 + (i % 7));
      expect(s.size).toBeLessThanOrEqual(16);
    }
    expect(s.dropped).toBe(200 - 16);
    for (let c = 0; c < 8000; c += 3) if (s.covers(c, c + 2)) expect(n.covers(c, c + 2)).toBe(true);
  });
});

describe('NamespaceTable (bounded per-namespace state)', () => {
  it('keeps at most DEALLOC_CAP deallocated ranges and MOD_LOG modifications per namespace, however long the trace', () => {
    const t = new NamespaceTable([{ nsid: 1, lba_size: 512, blocks: 1 << 30, unmap: 'zeroes' }]);
    for (let i = 0; i < 100_000; i++) t.deallocated(1, i * 16, i * 16 + 8);
    const e = t.get(1)!;
    expect(e.dealloc!.size).toBeLessThanOrEqual(DEALLOC_CAP);
    expect(e.mods!.length).toBeLessThanOrEqual(MOD_LOG);
    // A read submitted before the last modifications cannot be judged (they may have touched it): null, not a guess.
    expect(t.readDeallocated(1, 0, 8, 0)).toBeNull();
    // A read submitted now of a range still remembered is judged.
    const last = (100_000 - 1) * 16;
    expect(t.readDeallocated(1, last, last + 8, t.seq)).toBe(true);
  });

  it('tracks nothing for namespaces whose deallocated blocks may read as anything', () => {
    const t = new NamespaceTable([{ nsid: 1, lba_size: 512, unmap: 'unspecified' }, { nsid: 2, lba_size: 4096 }]);
    t.deallocated(1, 0, 8);
    t.deallocated(2, 0, 8);
    expect(t.tracks(1)).toBe(false);
    expect(t.tracks(2)).toBe(false);
    expect(t.readDeallocated(1, 0, 8, 0)).toBeNull();
    expect(t.lbaSize(2)).toBe(4096);
    // an unknown namespace takes the first declared one's LBA size (the shape's default)
    expect(t.lbaSize(9)).toBe(512);
  });

  it('a write removes blocks from the deallocated set; a write with unknown range forgets everything', () => {
    const t = new NamespaceTable([{ nsid: 1, lba_size: 512, blocks: 1000, unmap: 'zeroes' }]);
    t.deallocated(1, 0, 100);
    t.written(1, 40, 50);
    const seq = t.seq;
    expect(t.readDeallocated(1, 0, 40, seq)).toBe(true);
    expect(t.readDeallocated(1, 40, 50, seq)).toBe(false);
    t.written(1);
    expect(t.readDeallocated(1, 0, 40, t.seq)).toBe(false);
    // beyond the namespace size nothing is recorded
    t.deallocated(1, 900, 2000);
    expect(t.get(1)!.dealloc!.toArray()).toEqual([[900, 1000]]);
  });

  it('shape sizes are assumptions for the LBA size but statements for the block count', () => {
    const t = new NamespaceTable([{ nsid: 1, lba_size: 512, blocks: 1000 }]);
    expect(t.compare(1)).toMatchObject({ prevLbaSize: null, prevBlocks: 1000, prevBlocksFrom: 'the shape' });
    const f = new NamespaceTable([{ nsid: 1, lba_size: 512, blocks: 1000, source: '--namespace ns.yaml' }]);
    expect(f.compare(1)).toMatchObject({ prevLbaSize: 512, prevLbaFrom: '--namespace ns.yaml' });
  });

  it('a notice allows one size change; Format NVM allows an LBA size change', () => {
    const ref = { file: 't', line: 1 };
    const t = new NamespaceTable([]);
    t.observe(1, { lbaSize: 512, blocks: 100 }, 'Identify Namespace', ref);
    expect(t.compare(1).resizeNotified).toBe(false);
    t.notice(ref);
    expect(t.compare(1).resizeNotified).toBe(true);
    t.observe(1, { blocks: 200 }, 'Identify Namespace', ref);
    expect(t.compare(1).resizeNotified).toBe(false);
    expect(t.compare(1).formatted).toBe(false);
    t.formatted(1);
    expect(t.compare(1).formatted).toBe(true);
  });
});
