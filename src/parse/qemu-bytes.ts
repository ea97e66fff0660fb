import { loadEventDefs, type EventDef } from './event-spec.js';
import { compileBytes, type ByteTemplate } from './template-bytes.js';
import type { Fields } from './template.js';

/**
 * QEMU trace lines typed straight from the bytes the reader holds: no string per line, no object per
 * field. For each line it answers one of
 *  - an event index (>= 0): a well-formed event the consumer wants; its values are in `vals` (text fields
 *    as byte spans, see ByteScanner), in template field order;
 *  - SKIP: a well-formed event the consumer does not need (validated against its template, not typed);
 *  - SLOW: anything else — another program's output, an unknown event, a line that does not fit, a value
 *    beyond 2^53, non-ASCII text — for the string parser (parse/qemu.ts), which counts, reports and
 *    explains exactly as it always does. Declining is always safe; accepting is held to the string
 *    parser's verdict by test/parse-bytes.test.ts.
 */

export const SLOW = -1;
export const SKIP = -2;


export interface ByteEvent {
  def: EventDef;
  bytes: ByteTemplate;
  skip: boolean;
  /** Number of values (template fields). */
  width: number;
  /** Slots of its text (str/word) fields. */
  textSlots: number[];
}

/** Every QEMU event by a stable index (sorted names), the same on every thread that loads the same spec. */
export function qemuEventTable(defs: Map<string, EventDef> = loadEventDefs('qemu')): EventDef[] {
  return [...defs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
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
  readonly events: ByteEvent[];
  /**
   * Event names (with their pci_nvme_ prefix) as a byte trie in one flat array of rows, one row per state and
   * one column per byte class: next row = trie[row + classOf[byte]] (rows are addressed by their offset, so
   * a step is two loads and an add); row 0 is dead (no event has this prefix); accept[row] = event index or -1.
   */
  private readonly trie: Int32Array;
  private readonly classOf = new Uint8Array(256);
  private readonly accept: Int16Array;
  private readonly root: number;
  /** Per event index: its value count, and whether the consumer only needs it validated. */
  readonly widths: Int32Array;
  private readonly skips: Uint8Array;
  private readonly templates: ByteTemplate[];
  /** Widest event: the room a caller leaves in its value array before each line. */
  readonly width: number;
  private readonly ends: Int32Array;
  private texts = new Map<number, TextEntry>();
  private gen = 0;
  private strs: string[] = [];

  /** wanted: the events whose values the consumer uses (undefined: all of them); others are only validated. */
  constructor(opts: { wanted?: Set<string>; defs?: Map<string, EventDef> } = {}) {
    const table = qemuEventTable(opts.defs ?? loadEventDefs('qemu'));
    // Byte classes: 0 for bytes no name has, then one per byte that occurs in a name.
    let classes = 1;
    for (const def of table) for (let i = 0; i < def.name.length; i++) if (this.classOf[def.name.charCodeAt(i)] === 0) this.classOf[def.name.charCodeAt(i)] = classes++;
    const rows: number[][] = [new Array<number>(classes).fill(0), new Array<number>(classes).fill(0)]; // 0: dead, 1: root
    const accepts: number[] = [-1, -1];
    table.forEach((def, i) => {
      let st = 1;
      for (let k = 0; k < def.name.length; k++) {
        const c = this.classOf[def.name.charCodeAt(k)]!;
        if (rows[st]![c] === 0) {
          rows[st]![c] = rows.length;
          rows.push(new Array<number>(classes).fill(0));
          accepts.push(-1);
        }
        st = rows[st]![c]!;
      }
      accepts[st] = i;
    });
    this.trie = Int32Array.from(rows.flat(), (next) => next * classes);
    this.accept = new Int16Array(this.trie.length).fill(-1);
    accepts.forEach((a, st) => (this.accept[st * classes] = a));
    this.root = classes;
    let width = 1;
    this.events = table.map((def) => {
      const bytes = compileBytes(def.tpl.pieces, def.tpl.fieldNames);
      width = Math.max(width, bytes.width);
      const textSlots = def.tpl.fieldTypes.flatMap((t, k) => (t === 'str' || t === 'word' ? [k] : []));
      return { def, bytes, skip: opts.wanted !== undefined && def.cls === 'info' && !opts.wanted.has(def.name), width: bytes.width, textSlots };
    });
    this.width = width;
    this.ends = new Int32Array(width);
    this.widths = Int32Array.from(this.events, (e) => e.width);
    this.skips = Uint8Array.from(this.events, (e) => (e.skip ? 1 : 0));
    this.templates = this.events.map((e) => e.bytes);
  }

  /** Starts a batch: text values of the lines typed from now on are indexes into `strs`. */
  beginBatch(strs: string[]): void {
    this.strs = strs;
    this.gen++;
  }

  /**
   * Types the line b[s..e) (no newline, no CR): an event index, SKIP or SLOW. A typed event's values are in
   * out[o..o + events[index].width), text values as indexes into the batch's strings; NaN for a field of an
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
    // The event name, prefix included, through the trie.
    const trie = this.trie;
    const classOf = this.classOf;
    let row = this.root;
    let ne = pos;
    while (ne < e) {
      const c = b[ne]!;
      if (c === 32) break;
      row = trie[row + classOf[c]!]!;
      if (row === 0) return SLOW;
      ne++;
    }
    const index = this.accept[row]!;
    if (index < 0) return SLOW;
    const bodyStart = ne === e ? e : ne + 1;
    const bt = this.templates[index]!;
    const opt = bt.optSlots;
    for (let k = 0; k < opt.length; k++) out[o + opt[k]!] = NaN;
    if (bt.scan(b, bodyStart, e, out, this.ends, o) !== e) return SLOW;
    if (this.skips[index] === 1) return SKIP;
    const ev = this.events[index]!;
    const ts = ev.textSlots;
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
      t = { bytes: b.slice(s, e), str: latin1(b, s, e), gen: 0, id: 0 };
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
