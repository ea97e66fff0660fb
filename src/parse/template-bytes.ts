import { K_DEC, K_HEX, K_LIT, K_OPT, K_STR, K_WORD, toOps, type Op, type Piece } from './template.js';

/**
 * The template scanner of template.ts, over bytes instead of a string: the reading hot path types ASCII trace
 * lines straight out of the read buffer, without making a string per line. It accepts exactly what the string
 * scanner accepts on ASCII text (test/parse-bytes.test.ts holds the two together on every corpus line and on
 * corrupted ones); anything it cannot carry — a mismatch, a non-ASCII byte in a text field, a 64-bit value
 * beyond 2^53 — it declines, and the caller hands that line to the string parser, which says exactly what is
 * wrong or makes the bigint.
 */

export interface ByteOp {
  k: number;
  lit: Uint8Array; // K_LIT
  slot: number; // holes: index into the values (template field order)
  max: number;
  lim: number;
  signed: boolean;
  sub: ByteOp[] | null; // K_OPT
  until: Uint8Array | null; // K_STR
  anchored: boolean;
}

export interface ByteTemplate {
  ops: ByteOp[];
  scan: ByteScanner;
  /** Number of fields (slots). */
  width: number;
  /** Slots of fields inside an optional group (absent unless the group fits): reset to NaN before a scan. */
  optSlots: number[];
}

/** Each byte's value as a hex digit, or -1 (one load per digit instead of three range tests). */
const HEX_DIGITS = Int8Array.from({ length: 256 }, (_, c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1));

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export function compileBytes(pieces: Piece[], fieldNames: string[]): ByteTemplate {
  const optSlots: number[] = [];
  const conv = (ops: Op[], inOpt: boolean): ByteOp[] =>
    ops.map((o) => {
      const slot = o.name ? fieldNames.indexOf(o.name) : -1;
      if (inOpt && slot >= 0) optSlots.push(slot);
      return {
        k: o.k,
        lit: ascii(o.text),
        slot,
        max: o.max,
        lim: o.lim,
        signed: o.signed,
        sub: o.sub ? conv(o.sub, true) : null,
        until: o.until === null ? null : ascii(o.until),
        anchored: o.anchored,
      };
    });
  const ops = conv(toOps(pieces, true), false);
  // Compiled on first use: a trace uses a few dozen of QEMU's two hundred events.
  const t: ByteTemplate = {
    ops,
    width: fieldNames.length,
    optSlots,
    scan: (b, pos, end, vals, ends, o) => (t.scan = compileScanner(t))(b, pos, end, vals, ends, o),
  };
  return t;
}

/**
 * Scans b[pos..end) against a template (a failure inside an optional group skips the group, as in the string
 * scanner; a value it cannot carry declines the whole line). Returns the position where the template stops,
 * or -1. Numbers go to vals[o + slot]; text fields put their start there and their end in ends[slot] (byte
 * offsets into b).
 */
export type ByteScanner = (b: Uint8Array, pos: number, end: number, vals: Float64Array, ends: Int32Array, o: number) => number;

/**
 * Each template becomes one straight-line JavaScript function (as ajv does with schemas): literals are
 * compared byte by byte against constants, numbers are accumulated inline, and nothing is interpreted per
 * line. The generated source holds only numbers: literal bytes, slots and limits; no spec text is pasted in.
 */
export function compileScanner(t: { ops: ByteOp[] }): ByteScanner {
  let label = 0;
  const body = (ops: ByteOp[], fail: string): string[] => {
    const out: string[] = [];
    for (const op of ops) {
      switch (op.k) {
        case K_LIT: {
          const n = op.lit.length;
          if (n === 0) break;
          const cmp = Array.from(op.lit, (c, j) => `b[p + ${j}] !== ${c}`).join(' || ');
          out.push(`if (p + ${n} > end || ${cmp}) ${fail}`, `p += ${n};`);
          break;
        }
        case K_OPT: {
          const l = `opt${label++}`;
          out.push(`${l}: { const s_${l} = p;`, ...body(op.sub!, `{ p = s_${l}; break ${l}; }`), '}');
          break;
        }
        case K_WORD:
          out.push(
            '{ const q = p;',
            'while (p < end) { const c = b[p]; if (c === 32 || c === 44 || c === 41 || c === 93 || c === 9) break; if (c > 127) return -1; p++; }',
            `if (p === q) ${fail}`,
            `v[o + ${op.slot}] = q; E[${op.slot}] = p; }`,
          );
          break;
        case K_STR: {
          const u = op.until;
          out.push('{ const q = p; let e;');
          if (u === null) {
            if (!op.anchored) {
              out.push(`${fail} }`);
              break;
            }
            out.push('e = end;');
          } else {
            const at = (base: string): string => Array.from(u, (c, j) => `b[${base} + ${j}] === ${c}`).join(' && ');
            if (op.anchored) out.push(`e = end - ${u.length}; if (e < p || !(${at('e')})) ${fail}`);
            else out.push(`e = -1; for (let a = p; a + ${u.length} <= end; a++) if (${at('a')}) { e = a; break; }`, `if (e === -1) ${fail}`);
          }
          out.push('for (let j = q; j < e; j++) if (b[j] > 127) return -1;', `v[o + ${op.slot}] = q; E[${op.slot}] = e; p = e; }`);
          break;
        }
        default: {
          const hex = op.k === K_HEX;
          out.push('{ let neg = false;');
          if (op.signed) out.push('if (p < end && b[p] === 45) { neg = true; p++; }');
          out.push('let x = 0; const q = p;');
          if (hex)
            out.push(
              'while (p < end) { const d = HX[b[p]]; if (d < 0) break; x = x * 16 + d; p++; }',
            );
          else out.push('while (p < end) { const c = b[p]; if (c < 48 || c > 57) break; x = x * 10 + (c - 48); p++; }');
          // Beyond 2^53 the string scanner makes a bigint (or rejects): its business.
          out.push(`if (p === q || p - q > ${op.max}) ${fail}`, `if (x > ${Number.MAX_SAFE_INTEGER}) return -1;`);
          if (op.lim !== -1) out.push(op.signed ? `if (x > (neg ? ${op.lim + 1} : ${op.lim})) ${fail}` : `if (x > ${op.lim}) ${fail}`);
          out.push(op.signed ? `v[o + ${op.slot}] = neg ? -x : x; }` : `v[o + ${op.slot}] = x; }`);
        }
      }
    }
    return out;
  };
  const src = ['let p = pos;', ...body(t.ops, 'return -1;'), 'return p;'].join('\n');
  return new Function('HX', `return (b, pos, end, v, E, o) => { ${src} };`)(HEX_DIGITS) as ByteScanner;
}
