// AssemblyScript, compiled to dist/wasm/typer.wasm by `npm run build:wasm` (part of `prepare`); not TypeScript
// for Node (tsconfig.json leaves this folder out).
//
// The QEMU line typer's inner loop: split a chunk into lines and type each one against its event's template,
// in WebAssembly, where a byte costs a load and a compare, with no bounds-checked element access, no call
// per line and no JIT warm-up per template. Per line it answers an event index (values typed), SKIP (a
// well-formed event the consumer does not need) or SLOW (anything else, for the string parser, which counts,
// reports and explains). Declining is always safe; accepting is held to the string parser's verdict by
// test/parse-bytes.test.ts (every real trace line, thousands of corrupted ones) and test/typer-wasm.test.ts
// (template shapes QEMU's events do not all use).
//
// Everything it knows comes from tables the host (parse/qemu-wasm.ts) writes into memory from the event
// specs: the name hash, each event's compiled template as a small program, widths, skip flags, text slots.
// Nothing here knows an event name.

import { OP_DEC, OP_HEX, OP_LIT, OP_NAN, OP_OPT, OP_OPT_END, OP_STR, OP_WORD } from './ops';

// Per line verdicts (parse/qemu-wasm.ts).
const SLOW: i32 = -1;

const MAX_SAFE: f64 = 9007199254740991;
const SLOT_MASK: u32 = 4095;

// Tables (addresses in this memory; set once by configure()).
let hashSlots: usize = 0; // i32[4096]: event index + 1, 0 = empty
let names: usize = 0; // per event: i32 address, i32 length of its name after "pci_nvme_"
let programs: usize = 0; // per event: i32 address of its program
let widths: usize = 0; // per event: i32 number of values
let skips: usize = 0; // per event: i32 1 = validate only
let textSlots: usize = 0; // per event: i32 address, i32 count of its text fields' slots
let scratchEnds: usize = 0; // i32 per slot: where a text field ends
let hexDigits: usize = 0; // i8[256]: a byte's value as a hex digit, or -1

// Outputs of one call.
let outStarts: usize = 0;
let outEnds: usize = 0;
let outLineNos: usize = 0;
let outEvents: usize = 0;
let outVals: usize = 0;
let outTexts: usize = 0; // i32 quads: value index, start, end, FNV-1a hash of the bytes
let capLines: i32 = 0;
let capVals: i32 = 0;
let capTexts: i32 = 0;
let maxWidth: i32 = 0;
let maxTexts: i32 = 0;

// Counters of the last call, read by the host.
let kept: i32 = 0;
let nVals: i32 = 0;
let nTexts: i32 = 0;
let nLines: i32 = 0;
let nSkipped: i32 = 0;
/** 1 when the call stopped because the outputs were full (the host calls again with the rest). */
let full: i32 = 0;

export function configure(
  slots: usize, nameTable: usize, programTable: usize, widthTable: usize, skipTable: usize, textTable: usize,
  ends: usize, hex: usize, mw: i32, mt: i32,
): void {
  hashSlots = slots;
  names = nameTable;
  programs = programTable;
  widths = widthTable;
  skips = skipTable;
  textSlots = textTable;
  scratchEnds = ends;
  hexDigits = hex;
  maxWidth = mw;
  maxTexts = mt;
}

export function setOutputs(starts: usize, ends: usize, lineNos: usize, events: usize, vals: usize, texts: usize, lines: i32, valCap: i32, textCap: i32): void {
  outStarts = starts;
  outEnds = ends;
  outLineNos = lineNos;
  outEvents = events;
  outVals = vals;
  outTexts = texts;
  capLines = lines;
  capVals = valCap;
  capTexts = textCap;
}

export function keptLines(): i32 { return kept; }
export function valueCount(): i32 { return nVals; }
export function textCount(): i32 { return nTexts; }
export function lineCount(): i32 { return nLines; }
export function skippedCount(): i32 { return nSkipped; }
export function stoppedFull(): i32 { return full; }

/**
 * Types the lines of buf[0..len): each ended by a newline, the last by len when `unterminated`. Stops early
 * when the outputs are full. Returns the offset of the first line not taken.
 */
export function typeLines(buf: usize, len: i32, unterminated: i32, firstLineNo: i32): i32 {
  kept = 0;
  nVals = 0;
  nTexts = 0;
  nLines = 0;
  nSkipped = 0;
  full = 0;
  let s: i32 = 0;
  for (;;) {
    if (kept >= capLines || nVals + maxWidth > capVals || nTexts + maxTexts > capTexts) {
      full = 1;
      break;
    }
    const ls = s;
    let e = indexOfByte(buf, ls, len, 10);
    if (e < len) s = e + 1;
    else if (unterminated != 0 && ls < len) s = len;
    else break;
    // CRLF traces (serial consoles) lose their CR here.
    if (e > ls && load<u8>(buf + e - 1) == 13) e--;
    const r = typeLine(buf, ls, e, outVals + (<usize>nVals << 3));
    nLines++;
    if (r == -2) {
      nSkipped++;
      continue;
    }
    const k = <usize>kept << 2;
    store<i32>(outStarts + k, ls);
    store<i32>(outEnds + k, e);
    store<i32>(outLineNos + k, firstLineNo + nLines - 1);
    store<i16>(outEvents + (<usize>kept << 1), <i16>r);
    kept++;
    if (r >= 0) {
      // Text fields: where they are, for the host to turn into strings.
      const tsAt = load<i32>(textSlots + (<usize>r << 3));
      const tsN = load<i32>(textSlots + (<usize>r << 3) + 4);
      for (let j = 0; j < tsN; j++) {
        const slot = load<i32>(<usize>tsAt + (<usize>j << 2));
        const v = load<f64>(outVals + (<usize>(nVals + slot) << 3));
        if (v == v) {
          const t = outTexts + (<usize>nTexts << 4);
          const ts = <i32>v;
          const te = load<i32>(scratchEnds + (<usize>slot << 2));
          let th: u32 = 0x811c9dc5;
          for (let j = ts; j < te; j++) th = (th ^ load<u8>(buf + j)) * 0x01000193;
          store<i32>(t, nVals + slot);
          store<i32>(t + 4, ts);
          store<i32>(t + 8, te);
          store<u32>(t + 12, th);
          nTexts++;
        }
      }
      nVals += load<i32>(widths + (<usize>r << 2));
    }
  }
  return s;
}

/** One line buf[s..e): an event index, -2 (SKIP) or SLOW. Values go to vals (f64, template field order). */
function typeLine(buf: usize, s: i32, e: i32, vals: usize): i32 {
  let pos = s;
  if (s < e) {
    const c0 = load<u8>(buf + s);
    if (c0 >= 48 && c0 <= 57) {
      // PID@SEC.USEC: prefix, read as the string parser reads it: the first ':' after a first '@'.
      let at = -1;
      let sawAt = false;
      for (let i = s; i < e; i++) {
        const c = load<u8>(buf + i);
        if (c == 64) sawAt = true;
        else if (c == 58) {
          at = i;
          break;
        }
      }
      if (at == -1 || !sawAt) return SLOW;
      pos = at + 1;
    }
  }
  if (pos + 9 > e) return SLOW;
  const p0 = buf + pos;
  // "pci_nvme_" as two little-endian words and a byte.
  if (load<u32>(p0) != 0x5f696370 || load<u32>(p0 + 4) != 0x656d766e || load<u8>(p0 + 8) != 95) return SLOW;
  const ns = pos + 9;
  const ne = indexOfByte(buf, ns, e, 32);
  const len = ne - ns;
  if (len == 0) return SLOW;
  const index = find(buf + ns, len);
  if (index < 0) return SLOW;
  const bodyStart = ne == e ? e : ne + 1;
  if (scan(buf, bodyStart, e, vals, load<i32>(programs + (<usize>index << 2))) != e) return SLOW;
  if (load<i32>(skips + (<usize>index << 2)) != 0) return -2;
  return index;
}

/**
 * The event named by the len bytes at name, or -1: a hash of the length and the first and last eight bytes
 * (whole words), then a compare of the whole name. parse/qemu-wasm.ts builds the table with the same hash.
 */
function find(name: usize, len: i32): i32 {
  let k = <u32>(nameHash(name, len) >> 52) & SLOT_MASK;
  for (;;) {
    const i = load<i32>(hashSlots + (<usize>k << 2)) - 1;
    if (i < 0) return -1;
    if (load<i32>(names + (<usize>i << 3) + 4) == len && sameBytes(<usize>load<i32>(names + (<usize>i << 3)), name, len)) return i;
    k = (k + 1) & SLOT_MASK;
  }
  return -1; // not reached: the table always has empty slots
}

const GOLDEN: u64 = 0x9e3779b97f4a7c15;

export function nameHash(p: usize, len: i32): u64 {
  let h = <u64>len * GOLDEN;
  if (len >= 8) {
    h = (h ^ load<u64>(p)) * GOLDEN;
    h = (h ^ load<u64>(p + <usize>len - 8)) * GOLDEN;
  } else {
    for (let j = 0; j < len; j++) h = (h ^ <u64>load<u8>(p + j)) * GOLDEN;
  }
  return h ^ (h >> 29);
}

/** Whether len bytes at a and b are equal, a word at a time. */
function sameBytes(a: usize, b: usize, len: i32): bool {
  if (len < 8) {
    for (let j = 0; j < len; j++) if (load<u8>(a + j) != load<u8>(b + j)) return false;
    return true;
  }
  let j = 0;
  for (; j + 8 < len; j += 8) if (load<u64>(a + j) != load<u64>(b + j)) return false;
  return load<u64>(a + <usize>len - 8) == load<u64>(b + <usize>len - 8);
}

/** The first index in [from, to) holding byte c, or to: sixteen bytes at a time. */
function indexOfByte(buf: usize, from: i32, to: i32, c: i32): i32 {
  let i = from;
  const want = i8x16.splat(<i8>c);
  while (i + 16 <= to) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(buf + i), want));
    if (m != 0) return i + ctz(m);
    i += 16;
  }
  while (i < to && <i32>load<u8>(buf + i) != c) i++;
  return i;
}

/**
 * Runs a template program over buf[pos..end). Returns where it stops, or -1. A failure inside an optional
 * group puts the position back and skips the group (values it already wrote stay, as in the string scanner);
 * a value this scanner cannot carry (non-ASCII text, a number beyond 2^53) declines the whole line.
 */
function scan(buf: usize, pos: i32, end: i32, vals: usize, program: i32): i32 {
  let pc = <usize>program;
  let p = pos;
  // Open optional groups: where each started and where it ends (nesting is shallow).
  let depth = 0;
  let optStart0 = 0, optStart1 = 0, optStart2 = 0, optStart3 = 0;
  let optEnd0: usize = 0, optEnd1: usize = 0, optEnd2: usize = 0, optEnd3: usize = 0;
  for (;;) {
    const op = load<i32>(pc);
    let ok = true;
    if (op == OP_LIT) {
      // The literal's bytes, packed four to a word; the last word's unused bytes are zero, and masked off
      // here (reading up to three bytes past the line end stays inside memory: the host leaves room).
      const n = load<i32>(pc + 4);
      if (p + n > end) ok = false;
      else {
        const at = buf + p;
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          if (load<u32>(at + j) != load<u32>(pc + 8 + j)) {
            ok = false;
            break;
          }
        }
        if (ok && j < n && (load<u32>(at + j) & ((<u32>1 << ((n - j) << 3)) - 1)) != load<u32>(pc + 8 + j)) ok = false;
        if (ok) p += n;
      }
      pc += 8 + ((<usize>n + 3) & ~3);
    } else if (op == OP_DEC || op == OP_HEX) {
      const slot = load<i32>(pc + 4);
      const maxDigits = load<i32>(pc + 8);
      const hasLim = load<i32>(pc + 12);
      const lim = <f64>load<u32>(pc + 16);
      const signed = load<i32>(pc + 20);
      pc += 24;
      let neg = false;
      if (signed != 0 && p < end && load<u8>(buf + p) == 45) {
        neg = true;
        p++;
      }
      let x: f64 = 0;
      const q = p;
      if (op == OP_HEX) {
        while (p < end) {
          const d = load<i8>(hexDigits + load<u8>(buf + p));
          if (d < 0) break;
          x = x * 16 + <f64>d;
          p++;
        }
      } else {
        while (p < end) {
          const c = <i32>load<u8>(buf + p);
          if (c < 48 || c > 57) break;
          x = x * 10 + <f64>(c - 48);
          p++;
        }
      }
      if (p == q || p - q > maxDigits) ok = false;
      else {
        // Beyond 2^53 the string scanner makes a bigint (or rejects): its business.
        if (x > MAX_SAFE) return -1;
        if (hasLim != 0 && x > (neg ? lim + 1 : lim)) ok = false;
        else store<f64>(vals + (<usize>slot << 3), neg ? -x : x);
      }
    } else if (op == OP_WORD) {
      const slot = load<i32>(pc + 4);
      pc += 8;
      const q = p;
      while (p < end) {
        const c = load<u8>(buf + p);
        if (c == 32 || c == 44 || c == 41 || c == 93 || c == 9) break;
        if (c > 127) return -1;
        p++;
      }
      if (p == q) ok = false;
      else {
        store<f64>(vals + (<usize>slot << 3), <f64>q);
        store<i32>(scratchEnds + (<usize>slot << 2), p);
      }
    } else if (op == OP_STR) {
      const slot = load<i32>(pc + 4);
      const anchored = load<i32>(pc + 8);
      const un = load<i32>(pc + 12);
      const until = pc + 16;
      pc += 16 + (un > 0 ? <usize>un << 2 : 0);
      let e = -1;
      if (un < 0) {
        if (anchored != 0) e = end;
      } else if (anchored != 0) {
        const a = end - un;
        if (a >= p && matches(buf + a, until, un)) e = a;
      } else {
        for (let a = p; a + un <= end; a++) {
          if (matches(buf + a, until, un)) {
            e = a;
            break;
          }
        }
      }
      if (e < 0) ok = false;
      else {
        for (let j = p; j < e; j++) if (load<u8>(buf + j) > 127) return -1;
        store<f64>(vals + (<usize>slot << 3), <f64>p);
        store<i32>(scratchEnds + (<usize>slot << 2), e);
        p = e;
      }
    } else if (op == OP_OPT) {
      const after = <usize>load<i32>(pc + 4);
      pc += 8;
      if (depth == 0) { optStart0 = p; optEnd0 = after; }
      else if (depth == 1) { optStart1 = p; optEnd1 = after; }
      else if (depth == 2) { optStart2 = p; optEnd2 = after; }
      else if (depth == 3) { optStart3 = p; optEnd3 = after; }
      else return -1; // deeper than any spec writes: the string scanner's business
      depth++;
    } else if (op == OP_OPT_END) {
      pc += 4;
      depth--;
    } else if (op == OP_NAN) {
      store<f64>(vals + (<usize>load<i32>(pc + 4) << 3), NaN);
      pc += 8;
    } else {
      return p; // OP_END
    }
    if (!ok) {
      if (depth == 0) return -1;
      depth--;
      if (depth == 0) { p = optStart0; pc = optEnd0; }
      else if (depth == 1) { p = optStart1; pc = optEnd1; }
      else if (depth == 2) { p = optStart2; pc = optEnd2; }
      else { p = optStart3; pc = optEnd3; }
    }
  }
  return -1; // not reached: every program ends with OP_END
}

/** Whether the bytes at a equal the `n` words at lit (one byte per word). */
function matches(a: usize, lit: usize, n: i32): bool {
  for (let j = 0; j < n; j++) if (<i32>load<u8>(a + j) != load<i32>(lit + (<usize>j << 2))) return false;
  return true;
}
