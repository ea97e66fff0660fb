/**
 * A bounded set of half-open block ranges [start, end), kept sorted and merged. The checker uses it to remember
 * which logical blocks of a namespace were deallocated, without a per-block map that would grow with the trace.
 *
 * Bounded by `cap` intervals: when an insertion would exceed it, the smallest interval is forgotten. Forgetting
 * only ever shrinks the set, so a rule that asks "is this range entirely deallocated?" answers "no" more often,
 * never "yes" wrongly: the bound can cost a check, never raise a false alarm.
 */
export class IntervalSet {
  private starts: number[] = [];
  private ends: number[] = [];
  /** Intervals dropped because of the cap (for diagnostics and tests). */
  dropped = 0;

  constructor(readonly cap = 512) {}

  get size(): number {
    return this.starts.length;
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
  }

  /** Index of the first interval whose end is > x (binary search). */
  private firstEndingAfter(x: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Adds [start, end), merging with every interval it overlaps or touches. */
  add(start: number, end: number): void {
    if (!(end > start)) return;
    // First interval that could touch: its end >= start.
    const i = this.firstEndingAfter(start - 1);
    let s = start;
    let e = end;
    let j = i;
    while (j < this.starts.length && this.starts[j]! <= e) {
      s = Math.min(s, this.starts[j]!);
      e = Math.max(e, this.ends[j]!);
      j++;
    }
    this.starts.splice(i, j - i, s);
    this.ends.splice(i, j - i, e);
    if (this.starts.length > this.cap) {
      // Forget the smallest interval (the least knowledge lost).
      let k = 0;
      for (let n = 1; n < this.starts.length; n++) if (this.ends[n]! - this.starts[n]! < this.ends[k]! - this.starts[k]!) k = n;
      this.starts.splice(k, 1);
      this.ends.splice(k, 1);
      this.dropped++;
    }
  }

  /** Removes [start, end) (blocks written since: no longer known to be deallocated). */
  subtract(start: number, end: number): void {
    if (!(end > start) || this.starts.length === 0) return;
    const i = this.firstEndingAfter(start);
    const keepS: number[] = [];
    const keepE: number[] = [];
    let j = i;
    while (j < this.starts.length && this.starts[j]! < end) {
      if (this.starts[j]! < start) {
        keepS.push(this.starts[j]!);
        keepE.push(start);
      }
      if (this.ends[j]! > end) {
        keepS.push(end);
        keepE.push(this.ends[j]!);
      }
      j++;
    }
    this.starts.splice(i, j - i, ...keepS);
    this.ends.splice(i, j - i, ...keepE);
  }

  /** Keeps only what lies below `limit` (a namespace that shrank). */
  clip(limit: number): void {
    this.subtract(limit, Number.MAX_SAFE_INTEGER);
  }

  /** True when every block of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    if (!(end > start)) return false;
    const i = this.firstEndingAfter(start);
    return i < this.starts.length && this.starts[i]! <= start && this.ends[i]! >= end;
  }

  /** True when some block of [start, end) is in the set. */
  overlaps(start: number, end: number): boolean {
    if (!(end > start)) return false;
    const i = this.firstEndingAfter(start);
    return i < this.starts.length && this.starts[i]! < end;
  }

  toArray(): [number, number][] {
    return this.starts.map((s, k) => [s, this.ends[k]!]);
  }
}
