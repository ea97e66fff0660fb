import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadEventDefs, type EventDef } from './event-spec.js';
import { K_DEC, K_HEX, K_LIT, K_OPT, K_STR, K_WORD, toOps, type Op } from './template.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { UserError } from '../util/errors.js';
import { OP_DEC, OP_END, OP_HEX, OP_LIT, OP_NAN, OP_OPT, OP_OPT_END, OP_STR, OP_WORD } from '../wasm/ops.js';

/**
 * The host of the WebAssembly line typer (src/wasm/typer.ts): lays the QEMU event specs out in its memory
 * as tables (a name hash, one small program per template, widths, skip flags, text slots), copies each chunk
 * in, and exposes what one call typed as views of its memory. Per line: an event index (values typed), SKIP
 * (well-formed, not wanted: validated and dropped) or SLOW (for the string parser: other output, unknown
 * events, bad lines, non-ASCII text, values beyond 2^53).
 */

export const SLOW = -1;
export const SKIP = -2;

/** Every QEMU event by a stable index (sorted names), the same on every thread that loads the same spec. */
export function qemuEventTable(defs: Map<string, EventDef> = loadEventDefs('qemu')): EventDef[] {
  return [...defs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

const PREFIX = 'pci_nvme_';
const HASH_SLOTS = 4096;
/** Lines one call types at most: far more than a 64 KiB chunk holds, small enough to keep memory flat. */
const CAP_LINES = 16384;
const CAP_VALS = CAP_LINES * 8;
const CAP_TEXTS = CAP_LINES * 2;
const PAGE = 65536;

interface TyperExports {
  memory: WebAssembly.Memory;
  configure(slots: number, names: number, programs: number, widths: number, skips: number, texts: number, ends: number, hex: number, maxWidth: number, maxTexts: number): void;
  setOutputs(starts: number, ends: number, lineNos: number, events: number, vals: number, texts: number, lines: number, vals_: number, texts_: number): void;
  typeLines(buf: number, len: number, unterminated: number, firstLineNo: number): number;
  keptLines(): number;
  valueCount(): number;
  textCount(): number;
  lineCount(): number;
  skippedCount(): number;
  stoppedFull(): number;
}

let compiled: WebAssembly.Module | undefined;
/** Compiled once per thread (a few KiB: well under a millisecond). */
function typerModule(): WebAssembly.Module {
  if (compiled) return compiled;
  const file = path.join(PACKAGE_ROOT, 'dist', 'wasm', 'typer.wasm');
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch {
    throw new UserError(`${file} is missing: run \`npm run build\` (it compiles src/wasm/typer.ts)`);
  }
  return (compiled = new WebAssembly.Module(bytes));
}

const GOLDEN = 0x9e3779b97f4a7c15n;
const M64 = (1n << 64n) - 1n;

/** The typer's hash slot of an event name (src/wasm/typer.ts nameHash: length, first and last 8 bytes). */
export function nameSlot(name: Uint8Array): number {
  const word = (at: number): bigint => {
    let w = 0n;
    for (let j = 7; j >= 0; j--) w = (w << 8n) | BigInt(name[at + j]!);
    return w;
  };
  const len = name.length;
  let h = (BigInt(len) * GOLDEN) & M64;
  if (len >= 8) {
    h = ((h ^ word(0)) * GOLDEN) & M64;
    h = ((h ^ word(len - 8)) * GOLDEN) & M64;
  } else for (const c of name) h = ((h ^ BigInt(c)) * GOLDEN) & M64;
  h ^= h >> 29n;
  return Number((h >> 52n) & BigInt(HASH_SLOTS - 1));
}

/** A template as the typer's program: op words and operands, optional fields reset to NaN first. */
function program(ops: Op[], fieldNames: string[], base: number, words: number[]): void {
  const optSlots: number[] = [];
  const collect = (os: Op[], inOpt: boolean): void =>
    os.forEach((o) => {
      if (o.k === K_OPT) collect(o.sub!, true);
      else if (inOpt && o.name) optSlots.push(fieldNames.indexOf(o.name));
    });
  collect(ops, false);
  for (const s of optSlots) words.push(OP_NAN, s);
  const emit = (os: Op[]): void => {
    for (const o of os) {
      const slot = o.name ? fieldNames.indexOf(o.name) : -1;
      switch (o.k) {
        case K_LIT:
          if (o.text.length) words.push(OP_LIT, o.text.length, ...packed(o.text));
          break;
        case K_OPT: {
          words.push(OP_OPT, 0);
          const hole = words.length - 1;
          emit(o.sub!);
          words.push(OP_OPT_END);
          words[hole] = base + words.length * 4;
          break;
        }
        case K_WORD:
          words.push(OP_WORD, slot);
          break;
        case K_STR:
          words.push(OP_STR, slot, o.anchored ? 1 : 0, o.until === null ? -1 : o.until.length, ...(o.until === null ? [] : codes(o.until)));
          break;
        case K_DEC:
        case K_HEX:
          words.push(o.k === K_HEX ? OP_HEX : OP_DEC, slot, o.max, o.lim === -1 ? 0 : 1, o.lim === -1 ? 0 : o.lim | 0, o.signed ? 1 : 0);
          break;
      }
    }
  };
  emit(ops);
  words.push(OP_END);
}

const codes = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Bytes four to a word, little-endian, the last word zero-padded (OP_LIT). */
function packed(s: string): number[] {
  const b = codes(s);
  const out: number[] = [];
  for (let j = 0; j < b.length; j += 4) out.push((b[j]! | ((b[j + 1] ?? 0) << 8) | ((b[j + 2] ?? 0) << 16) | ((b[j + 3] ?? 0) << 24)) >>> 0);
  return out;
}

/** What one typeLines call produced: views of the typer's memory, valid until the next call. */
export interface TypedChunk {
  /** Offset of the first line not taken. */
  rest: number;
  /** The outputs filled up before the chunk's lines ran out: call again with the rest. */
  full: boolean;
  /** Lines taken (kept + skipped). */
  lines: number;
  kept: number;
  skipped: number;
  /** Per kept line: start, end (no newline, no CR), line number, event index or SLOW. */
  starts: Int32Array<ArrayBuffer>;
  ends: Int32Array<ArrayBuffer>;
  lineNos: Int32Array<ArrayBuffer>;
  events: Int16Array<ArrayBuffer>;
  /** Values of the typed lines, in order; a text field holds its start offset until the host interns it. */
  vals: Float64Array<ArrayBuffer>;
  /** Per text value: its index in vals, start, end, FNV-1a hash (as i32). */
  texts: Int32Array<ArrayBuffer>;
}

export class QemuWasmTyper {
  readonly widths: Int32Array;
  /** Widest event's value count. */
  readonly width: number;
  private readonly x: TyperExports;
  private readonly at: { starts: number; ends: number; lineNos: number; events: number; vals: number; texts: number; input: number };
  private inputCap = 0;
  private u8!: Uint8Array;

  /** wanted: the events whose values the consumer uses (undefined: all of them); others are only validated. */
  constructor(opts: { wanted?: Set<string>; defs?: Map<string, EventDef> } = {}) {
    const table = qemuEventTable(opts.defs ?? loadEventDefs('qemu'));
    const n = table.length;
    const templates = table.map((d) => ({ ops: toOps(d.tpl.pieces, true), names: d.tpl.fieldNames, types: d.tpl.fieldTypes }));
    this.widths = Int32Array.from(templates, (t) => t.names.length);
    this.width = Math.max(1, ...this.widths);
    const textSlots = templates.map((t) => t.types.flatMap((ty, k) => (ty === 'str' || ty === 'word' ? [k] : [])));
    const maxTexts = Math.max(0, ...textSlots.map((t) => t.length));
    const nameBytes = table.map((d) => Uint8Array.from(codes(d.name.slice(PREFIX.length))));

    // Layout: tables, then outputs, then the input chunk (which grows as chunks do).
    let top = 0;
    const take = (bytes: number): number => {
      const a = top;
      top += (bytes + 7) & ~7;
      return a;
    };
    const hex = take(256);
    const slots = take(HASH_SLOTS * 4);
    const names = take(n * 8);
    const nameArea = take(nameBytes.reduce((a, b) => a + b.length, 0));
    const programs = take(n * 4);
    const widths = take(n * 4);
    const skips = take(n * 4);
    const texts = take(n * 8);
    const textArea = take(textSlots.reduce((a, t) => a + t.length * 4, 0));
    const scratch = take(this.width * 4);
    const words: number[] = [];
    const progStarts: number[] = [];
    // Programs go after everything else fixed; their size is known only once emitted.
    const progBase = top;
    for (const t of templates) {
      progStarts.push(progBase + words.length * 4);
      program(t.ops, t.names, progBase, words);
    }
    take(words.length * 4);
    this.at = {
      starts: take(CAP_LINES * 4),
      ends: take(CAP_LINES * 4),
      lineNos: take(CAP_LINES * 4),
      events: take(CAP_LINES * 2),
      vals: take(CAP_VALS * 8),
      texts: take(CAP_TEXTS * 16),
      input: top,
    };

    const instance = new WebAssembly.Instance(typerModule(), {});
    this.x = instance.exports as unknown as TyperExports;
    this.x.memory.grow(Math.ceil((top + PAGE) / PAGE));
    this.inputCap = this.x.memory.buffer.byteLength - top;
    const buf = this.x.memory.buffer;
    const u8 = new Uint8Array(buf);
    const i32 = new Int32Array(buf);
    const i8 = new Int8Array(buf);
    for (let c = 0; c < 256; c++) i8[hex + c] = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    let na = nameArea;
    let ta = textArea;
    nameBytes.forEach((nb, i) => {
      let k = nameSlot(nb);
      while (i32[(slots >> 2) + k] !== 0) k = (k + 1) & (HASH_SLOTS - 1);
      i32[(slots >> 2) + k] = i + 1;
      u8.set(nb, na);
      i32[(names >> 2) + 2 * i] = na;
      i32[(names >> 2) + 2 * i + 1] = nb.length;
      na += nb.length;
      i32[(programs >> 2) + i] = progStarts[i]!;
      i32[(widths >> 2) + i] = this.widths[i]!;
      const def = table[i]!;
      i32[(skips >> 2) + i] = opts.wanted !== undefined && def.cls === 'info' && !opts.wanted.has(def.name) ? 1 : 0;
      i32[(texts >> 2) + 2 * i] = ta;
      i32[(texts >> 2) + 2 * i + 1] = textSlots[i]!.length;
      for (const s of textSlots[i]!) {
        i32[ta >> 2] = s;
        ta += 4;
      }
    });
    i32.set(words, progBase >> 2);
    this.x.configure(slots, names, programs, widths, skips, texts, scratch, hex, this.width, maxTexts);
    const a = this.at;
    this.x.setOutputs(a.starts, a.ends, a.lineNos, a.events, a.vals, a.texts, CAP_LINES, CAP_VALS, CAP_TEXTS);
    this.u8 = u8;
  }

  /**
   * Types the lines of buf (each ended by a newline; the last by the end when unterminated), numbering them
   * from firstLineNo. Stops early when its outputs are full: `rest` then falls short of the last newline.
   */
  type(buf: Uint8Array, unterminated: boolean, firstLineNo: number): TypedChunk {
    const x = this.x;
    // Room past the chunk: word loads at a line's end may read up to 3 bytes beyond it.
    if (buf.length + 16 > this.inputCap) {
      x.memory.grow(Math.ceil((buf.length + 16 - this.inputCap) / PAGE));
      this.inputCap = x.memory.buffer.byteLength - this.at.input;
    }
    const mem = x.memory.buffer;
    if (this.u8.buffer !== mem) this.u8 = new Uint8Array(mem);
    this.u8.set(buf, this.at.input);
    const rest = x.typeLines(this.at.input, buf.length, unterminated ? 1 : 0, firstLineNo);
    const kept = x.keptLines();
    const a = this.at;
    return {
      rest,
      lines: x.lineCount(),
      kept,
      skipped: x.skippedCount(),
      full: x.stoppedFull() === 1,
      starts: new Int32Array(mem, a.starts, kept),
      ends: new Int32Array(mem, a.ends, kept),
      lineNos: new Int32Array(mem, a.lineNos, kept),
      events: new Int16Array(mem, a.events, kept),
      vals: new Float64Array(mem, a.vals, x.valueCount()),
      texts: new Int32Array(mem, a.texts, x.textCount() * 4),
    };
  }
}
