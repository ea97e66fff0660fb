import { loadEventDefs, type EventDef } from './event-spec.js';
import { compileBytes, type ByteTemplate } from './template-bytes.js';
import type { Fields } from './template.js';

/**
 * QEMU trace lines typed straight from the bytes the reader holds: no string per line, no object per
 * field. For each line it answers one of
 *  - an event index (>= 0): a well-formed event the consumer wants; its values are in the caller's array, in
 *    template field order (text fields as indexes into the batch's strings);
 *  - SKIP: a well-formed event the consumer does not need (validated against its template, not typed);
 *  - SLOW: anything else — another program's output, an unknown event, a line that does not fit, a value
 *    beyond 2^53, non-ASCII text — for the string parser (parse/qemu.ts), which counts, reports and
 *    explains exactly as it always does. Declining is always safe; accepting is held to the string
 *    parser's verdict by test/parse-bytes.test.ts.
 */

export const SLOW = -1;
export const SKIP = -2;

/** Every QEMU event by a stable index (sorted names), the same on every thread that loads the same spec. */
export function qemuEventTable(defs: Map<string, EventDef> = loadEventDefs('qemu')): EventDef[] {
  return [...defs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

const PREFIX = 'pci_nvme_';
const SLOT_BITS = 12;

/**
 * A byte of a name by position: counted from its start (>= 0) or from its end (< 0, -1 = last byte); 0 past
 * either end. The positions the name hash reads are chosen at construction (QEMU's names often differ late:
 * err_invalid_create_cq_cqid / err_invalid_create_sq_cqid).
 */
function byteAt(b: Uint8Array, s: number, len: number, at: number): number {
  const i = at >= 0 ? at : len + at;
  return i >= 0 && i < len ? b[s + i]! : 0;
}

function keyOf(b: Uint8Array, s: number, len: number, at: Int8Array): number {
  let h = len;
  for (let k = 0; k < at.length; k++) h = Math.imul(h ^ byteAt(b, s, len, at[k]!), 0x01000193);
  return (h ^ (h >>> 15)) & ((1 << SLOT_BITS) - 1);
}

/** Hash layouts already found, by the names they were found for (one search per process and spec). */
const HASHES = new Map<string, { slots: Int16Array; at: Int8Array }>();

/** Positions whose bytes (with the length) tell most names apart, and the slots (event index + 1). */
function nameHash(names: Uint8Array[]): { slots: Int16Array; at: Int8Array } {
  const candidates = Array.from({ length: 64 }, (_, i) => (i < 32 ? i : 31 - i));
  // The exact key (length, then a byte per position) as one number: four positions fit in 53 bits.
  const collisions = (at: number[]): number => {
    const keys = new Set<number>();
    let n = 0;
    for (const name of names) {
      let exact = name.length;
      for (const a of at) exact = exact * 256 + byteAt(name, 0, name.length, a);
      if (keys.has(exact)) n++;
      keys.add(exact);
    }
    return n;
  };
  const at: number[] = [];
  // Four positions: names that still share a key are told apart by the comparison in find(), a probe later.
  for (let round = 0; round < 4; round++) {
    if (collisions(at) === 0) break;
    let best = candidates[0]!;
    let bestN = Infinity;
    for (const c of candidates) {
      if (at.includes(c)) continue;
      const n = collisions([...at, c]);
      if (n < bestN) {
        bestN = n;
        best = c;
      }
    }
    at.push(best);
  }
  const positions = Int8Array.from(at);
  // Open addressing: a slot taken by another name's key moves on to the next.
  const slots = new Int16Array(1 << SLOT_BITS);
  names.forEach((n, i) => {
    let k = keyOf(n, 0, n.length, positions);
    while (slots[k] !== 0) k = (k + 1) & ((1 << SLOT_BITS) - 1);
    slots[k] = i + 1;
  });
  return { slots, at: positions };
}

const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashBytes(b: Uint8Array, s: number, e: number): number {
  let h = FNV_BASIS;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h >>> 0;
}

interface TextEntry {
  bytes: Uint8Array;
  str: string;
  /** Its index in the strings of the batch `gen`. */
  gen: number;
  id: number;
}

/** Distinct text values kept for reuse; a trace has a few dozen (command names, verbs). */
const TEXT_CACHE_MAX = 4096;

export class QemuByteParser {
  /**
   * Event names by a hash of their length and four of their bytes (after the pci_nvme_ prefix; which ones is
   * found at construction), open addressing: slot -> event index + 1 (0: no event). A hit is confirmed by
   * comparing the whole name, so an unknown name never passes for a known one.
   */
  private readonly slots: Int16Array;
  private readonly at: Int8Array;
  /** Each event's name after the prefix, as bytes. */
  private readonly names: Uint8Array[];
  /**
   * Per event index: its compiled template, its value count, whether the consumer only needs it validated,
   * and the slots of its text (str/word) fields.
   */
  private readonly templates: ByteTemplate[];
  readonly widths: Int32Array;
  private readonly skips: Uint8Array;
  private readonly textSlots: number[][];
  /** Widest event: the room a caller leaves in its value array before each line. */
  readonly width: number;
  private readonly ends: Int32Array;
  private texts = new Map<number, TextEntry>();
  private gen = 0;
  private strs: string[] = [];

  /** wanted: the events whose values the consumer uses (undefined: all of them); others are only validated. */
  constructor(opts: { wanted?: Set<string>; defs?: Map<string, EventDef> } = {}) {
    const table = qemuEventTable(opts.defs ?? loadEventDefs('qemu'));
    this.names = table.map((def) => Uint8Array.from(def.name.slice(PREFIX.length), (c) => c.charCodeAt(0)));
    const key = table.map((d) => d.name).join(' ');
    let found = HASHES.get(key);
    if (!found) HASHES.set(key, (found = nameHash(this.names)));
    this.slots = found.slots;
    this.at = found.at;
    this.templates = table.map((def) => compileBytes(def.tpl.pieces, def.tpl.fieldNames));
    this.widths = Int32Array.from(this.templates, (t) => t.width);
    this.skips = Uint8Array.from(table, (def) => (opts.wanted !== undefined && def.cls === 'info' && !opts.wanted.has(def.name) ? 1 : 0));
    this.textSlots = table.map((def) => def.tpl.fieldTypes.flatMap((t, k) => (t === 'str' || t === 'word' ? [k] : [])));
    this.width = Math.max(1, ...this.widths);
    this.ends = new Int32Array(this.width);
    this.next = new Int16Array(table.length).fill(-1);
  }

  /** The event of the previous line (-1: not an event), and per event the one that followed it last time. */
  private prev = -1;
  private readonly next: Int16Array;

  /** A line that is no known event: the next one is looked up afresh. */
  private forget(): number {
    this.prev = -1;
    return SLOW;
  }

  /** The index of the event named b[s..s+len), or -1. */
  private find(b: Uint8Array, s: number, len: number): number {
    const names = this.names;
    for (let k = keyOf(b, s, len, this.at); ; k = (k + 1) & ((1 << SLOT_BITS) - 1)) {
      const i = this.slots[k]! - 1;
      if (i < 0) return -1;
      const name = names[i]!;
      if (name.length !== len) continue;
      let j = 0;
      while (j < len && b[s + j] === name[j]) j++;
      if (j === len) return i;
    }
  }

  /** Starts a batch: text values of the lines typed from now on are indexes into `strs`. */
  beginBatch(strs: string[]): void {
    this.strs = strs;
    this.gen++;
  }

  /**
   * Types the line b[s..e) (no newline, no CR): an event index, SKIP or SLOW. A typed event's values are in
   * out[o..o + widths[index]), text values as indexes into the batch's strings; NaN for a field of an
   * optional group that is not there. The caller leaves `width` values of room at o.
   */
  line(b: Uint8Array, s: number, e: number, out: Float64Array, o: number): number {
    let pos = s;
    const c0 = b[s];
    if (c0 !== undefined && c0 >= 48 && c0 <= 57) {
      // PID@SEC.USEC: prefix, read as the string parser reads it: the first ':' after a first '@'.
      let at = -1;
      let sawAt = false;
      for (let i = s; i < e; i++) {
        const c = b[i]!;
        if (c === 64) sawAt = true;
        else if (c === 58) {
          at = i;
          break;
        }
      }
      if (at === -1 || !sawAt) return SLOW;
      pos = at + 1;
    }
    if (
      pos + 9 > e ||
      b[pos] !== 112 || b[pos + 1] !== 99 || b[pos + 2] !== 105 || b[pos + 3] !== 95 || b[pos + 4] !== 110 ||
      b[pos + 5] !== 118 || b[pos + 6] !== 109 || b[pos + 7] !== 101 || b[pos + 8] !== 95
    )
      return SLOW; // not pci_nvme_
    const ns = pos + 9;
    // Traces repeat: the event that followed this line's predecessor last time is tried first, by comparing
    // its name (and the space or line end after it) in place, without looking for the space or hashing.
    let index = -1;
    let ne = ns;
    const prev = this.prev;
    const guess = prev >= 0 ? this.next[prev]! : -1;
    if (guess >= 0) {
      const name = this.names[guess]!;
      const end = ns + name.length;
      if (end <= e && (end === e || b[end] === 32)) {
        let j = 0;
        while (j < name.length && b[ns + j] === name[j]) j++;
        if (j === name.length) {
          index = guess;
          ne = end;
        }
      }
    }
    if (index < 0) {
      while (ne < e && b[ne] !== 32) ne++;
      const len = ne - ns;
      if (len === 0) return this.forget();
      index = this.find(b, ns, len);
      if (index < 0) return this.forget();
      if (prev >= 0) this.next[prev] = index;
    }
    this.prev = index;
    const bodyStart = ne === e ? e : ne + 1;
    const bt = this.templates[index]!;
    const opt = bt.optSlots;
    for (let k = 0; k < opt.length; k++) out[o + opt[k]!] = NaN;
    if (bt.scan(b, bodyStart, e, out, this.ends, o) !== e) return SLOW;
    if (this.skips[index] === 1) return SKIP;
    const ts = this.textSlots[index]!;
    for (let k = 0; k < ts.length; k++) {
      const slot = ts[k]!;
      const start = out[o + slot]!;
      if (start === start) out[o + slot] = this.text(b, start, this.ends[slot]!);
    }
    return index;
  }

  /** The batch index of the text b[s..e): the same string object each time it recurs, made once. */
  private text(b: Uint8Array, s: number, e: number): number {
    const h = hashBytes(b, s, e);
    let t = this.texts.get(h);
    if (t === undefined || !sameBytes(t.bytes, b, s, e)) {
      if (this.texts.size >= TEXT_CACHE_MAX) this.texts = new Map();
      // A copy: on a Buffer, slice() is a view, and the read buffer is reused.
      t = { bytes: Uint8Array.prototype.slice.call(b, s, e), str: latin1(b, s, e), gen: 0, id: 0 };
      this.texts.set(h, t);
    }
    if (t.gen !== this.gen) {
      t.gen = this.gen;
      t.id = this.strs.length;
      this.strs.push(t.str);
    }
    return t.id;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array, s: number, e: number): boolean {
  if (a.length !== e - s) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[s + i]) return false;
  return true;
}

/** ASCII text (the scanner refused anything else) from a byte span. */
export function latin1(b: Uint8Array, s: number, e: number): string {
  return Buffer.prototype.latin1Slice.call(b, s, e) as string;
}
