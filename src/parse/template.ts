import fs from 'node:fs';
import * as ohm from 'ohm-js';
import { grammarPath } from '../util/paths.js';

/**
 * Event templates (declared in specs/trace/*.yaml, syntax in grammar/event-template.ohm) are compiled once into
 * two parsers with the same meaning:
 *  - a fast matcher: a loop over literal and typed-hole pieces, no regex, no Ohm (the hot path);
 *  - an Ohm grammar generated from the same pieces, used only for lines the fast matcher rejects, because Ohm
 *    says exactly where and what it expected.
 * The differential test (test/template-differential.test.ts) keeps the two in agreement on every corpus line.
 */

export type HoleType = 'u8' | 'u16' | 'u32' | 'u64' | 'i32' | 'i64' | 'x8' | 'x16' | 'x32' | 'x64' | 'str' | 'word';
export type FieldValue = number | bigint | string;
export type Fields = Record<string, FieldValue>;

export type Piece =
  | { t: 'lit'; text: string }
  | { t: 'hole'; name: string; type: HoleType }
  | { t: 'opt'; pieces: Piece[] };

const templateGrammar = ohm.grammar(fs.readFileSync(grammarPath('event-template.ohm'), 'utf8'));
const templateSemantics = templateGrammar.createSemantics().addOperation('pieces', {
  Template(p) {
    return p.pieces();
  },
  Pieces(list) {
    return mergeLiterals(list.children.map((c) => c.pieces() as Piece));
  },
  piece(p) {
    return p.pieces();
  },
  optional(_o, list, _c) {
    return { t: 'opt', pieces: mergeLiterals(list.children.map((c) => c.pieces() as Piece)) };
  },
  hole(_o, name, _colon, type, _c) {
    return { t: 'hole', name: name.sourceString, type: type.sourceString as HoleType };
  },
  literal(chars) {
    return { t: 'lit', text: chars.children.map((c) => unescapeLit(c.sourceString)).join('') };
  },
});

function unescapeLit(s: string): string {
  switch (s) {
    case '{{':
      return '{';
    case '}}':
      return '}';
    case '\\[':
      return '[';
    case '\\]':
      return ']';
    case '\\\\':
      return '\\';
    default:
      return s;
  }
}

function mergeLiterals(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (p.t === 'lit' && last?.t === 'lit') out[out.length - 1] = { t: 'lit', text: last.text + p.text };
    else out.push(p);
  }
  return out;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export function parseTemplate(template: string): Piece[] {
  const m = templateGrammar.match(template);
  if (m.failed()) {
    const off = m.getRightmostFailurePosition();
    throw new TemplateError(`bad event template at column ${off + 1}: ${m.shortMessage ?? 'syntax error'}`, off);
  }
  const pieces = templateSemantics(m).pieces() as Piece[];
  checkAmbiguity(pieces);
  return pieces;
}

/** A str/word hole needs a literal after it (or the line end) to know where it stops. */
function checkAmbiguity(pieces: Piece[]): void {
  const names = new Set<string>();
  const walk = (ps: Piece[]): void => {
    ps.forEach((p, i) => {
      if (p.t === 'opt') return walk(p.pieces);
      if (p.t !== 'hole') return;
      if (names.has(p.name)) throw new TemplateError(`field '${p.name}' appears twice`, 0);
      names.add(p.name);
      const next = ps[i + 1];
      if (next && next.t === 'hole') throw new TemplateError(`holes {${p.name}} and {${next.name}} must be separated by literal text`, 0);
    });
  };
  walk(pieces);
}

// ---------------------------------------------------------------------------------------------------------
// Fast path

const MAX_DIGITS: Record<string, number> = { u8: 3, u16: 5, u32: 10, u64: 20, i32: 11, i64: 20, x8: 2, x16: 4, x32: 8, x64: 16 };
const LIMIT: Record<string, number> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff, x8: 0xff, x16: 0xffff, x32: 0xffffffff };

/** Result of a fast match: the fields, or -1-position of the first mismatch (so callers can skip Ohm when they only need a yes/no). */
export interface CompiledTemplate {
  pieces: Piece[];
  fieldNames: string[];
  /** Returns the fields, or null when the line does not fit (then ask diagnose()). */
  match(line: string, start: number): Fields | null;
}

function fail(pos: number): number {
  failPos = pos;
  return -1;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Where the last failed scan stopped fitting (0-based); read right after a -1. */
let failPos = 0;

/** Scans one piece list; returns the end position or -1 (failPos says where). Writes holes into out. */
function scan(pieces: Piece[], line: string, pos: number, out: Fields, atTop: boolean): number {
  const n = pieces.length;
  for (let i = 0; i < n; i++) {
    const p = pieces[i]!;
    if (p.t === 'lit') {
      if (!line.startsWith(p.text, pos)) return fail(pos);
      pos += p.text.length;
      continue;
    }
    if (p.t === 'opt') {
      const save = pos;
      const r = scan(p.pieces, line, pos, out, false);
      pos = r === -1 ? save : r;
      continue;
    }
    const type = p.type;
    const len = line.length;
    if (type === 'str' || type === 'word') {
      const next = pieces[i + 1];
      let end: number;
      if (type === 'word') {
        end = pos;
        while (end < len) {
          const c = line.charCodeAt(end);
          if (c === 32 || c === 44 || c === 41 || c === 93 || c === 9) break; // space , ) ]
          end++;
        }
        if (end === pos) return fail(pos);
      } else if (!next) {
        end = atTop ? len : -1;
        if (end === -1) return fail(pos);
      } else if (next.t === 'lit') {
        // The last literal of a template anchors at the line end; others at their first occurrence.
        if (atTop && i + 2 === n) {
          end = line.endsWith(next.text) ? len - next.text.length : -1;
          if (end < pos) return fail(pos);
        } else {
          end = line.indexOf(next.text, pos);
          if (end === -1) return fail(pos);
        }
      } else return fail(pos);
      out[p.name] = line.slice(pos, end);
      pos = end;
      continue;
    }
    const hex = type.charCodeAt(0) === 120; // 'x'
    const start = pos;
    let neg = false;
    if (!hex && type.charCodeAt(0) === 105 && line.charCodeAt(pos) === 45) {
      neg = true;
      pos++;
    }
    let v = 0;
    const digitsStart = pos;
    if (hex) {
      while (pos < len) {
        const d = hexVal(line.charCodeAt(pos));
        if (d < 0) break;
        v = v * 16 + d;
        pos++;
      }
    } else {
      while (pos < len) {
        const c = line.charCodeAt(pos);
        if (c < 48 || c > 57) break;
        v = v * 10 + (c - 48);
        pos++;
      }
    }
    const nd = pos - digitsStart;
    if (nd === 0 || nd > MAX_DIGITS[type]!) return fail(start);
    if (v > Number.MAX_SAFE_INTEGER) {
      const big = BigInt(hex ? '0x' + line.slice(digitsStart, pos) : line.slice(digitsStart, pos));
      if (big > 0xffffffffffffffffn) return fail(start);
      out[p.name] = neg ? -big : big;
      continue;
    }
    const lim = LIMIT[type];
    if (lim !== undefined && v > lim) return fail(start);
    if (type === 'i32' && v > (neg ? 0x80000000 : 0x7fffffff)) return fail(start);
    out[p.name] = neg ? -v : v;
  }
  return pos;
}

export function compileTemplate(template: string): CompiledTemplate {
  const pieces = parseTemplate(template);
  const fieldNames: string[] = [];
  const collect = (ps: Piece[]): void =>
    ps.forEach((p) => (p.t === 'hole' ? fieldNames.push(p.name) : p.t === 'opt' ? collect(p.pieces) : undefined));
  collect(pieces);
  return {
    pieces,
    fieldNames,
    match(line: string, start: number): Fields | null {
      const out: Fields = {};
      const end = scan(pieces, line, start, out, true);
      return end === line.length ? out : null;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Slow path: an Ohm grammar generated from the same pieces, for exact diagnostics.

function ohmString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

const HOLE_RULES: Record<HoleType, string> = {
  u8: 'dec',
  u16: 'dec',
  u32: 'dec',
  u64: 'dec',
  i32: 'sdec',
  i64: 'sdec',
  x8: 'hex',
  x16: 'hex',
  x32: 'hex',
  x64: 'hex',
  str: '',
  word: 'wordChars',
};

function piecesToOhm(pieces: Piece[], top: boolean): string {
  const parts: string[] = [];
  pieces.forEach((p, i) => {
    if (p.t === 'lit') parts.push(ohmString(p.text));
    else if (p.t === 'opt') parts.push(`(${piecesToOhm(p.pieces, false)})?`);
    else {
      if (p.type === 'str') strBodies.set(p, strExpr(pieces, i, top));
      parts.push(holeRule(p.name));
    }
  });
  return parts.join(' ') || '""';
}

const strBodies = new Map<Piece, string>();

function strExpr(pieces: Piece[], i: number, top: boolean): string {
  const next = pieces[i + 1];
  if (!next) return 'any*';
  if (next.t === 'lit') return top && i + 2 === pieces.length ? `(~(${ohmString(next.text)} end) any)*` : `(~${ohmString(next.text)} any)*`;
  return 'any*';
}

function strBody(_pieces: Piece[], p: Piece): string {
  return strBodies.get(p) ?? 'any*';
}

function holeRule(name: string): string {
  return `h_${name}`;
}

function holeRules(pieces: Piece[], out: string[] = []): string[] {
  for (const p of pieces) {
    if (p.t === 'opt') holeRules(p.pieces, out);
    else if (p.t === 'hole') out.push(`      ${holeRule(p.name)} = ${p.type === 'str' ? strBody(pieces, p) : HOLE_RULES[p.type]}`);
  }
  return out;
}



const diagCache = new WeakMap<Piece[], { g: ohm.Grammar; sem: ohm.Semantics }>();

/** The Ohm grammar (and a field-collecting semantics) generated from a template's pieces; built on first use. */
function ohmFor(pieces: Piece[]): { g: ohm.Grammar; sem: ohm.Semantics } {
  let hit = diagCache.get(pieces);
  if (hit) return hit;
  const body = piecesToOhm(pieces, true);
  const src = `EventLine {
      line = ${body} end
${holeRules(pieces).join('\n')}
      dec = digit+
      sdec = "-"? digit+
      hex = hexDigit+
      wordChars = (~(" " | "," | ")" | "]" | "\\t") any)+
      space := ~any any
    }`;
  const g = ohm.grammar(src);
  const sem = g.createSemantics().addOperation('holes', {
    _nonterminal(...children: ohm.Node[]) {
      const name = this.ctorName;
      if (name.startsWith('h_')) return [[name.slice(2), this.sourceString]];
      return children.flatMap((c) => c.holes() as [string, string][]);
    },
    _iter(...children: ohm.Node[]) {
      return children.flatMap((c) => c.holes() as [string, string][]);
    },
    _terminal() {
      return [];
    },
  });
  hit = { g, sem };
  diagCache.set(pieces, hit);
  return hit;
}

/**
 * The slow path: match with the generated Ohm grammar and type the holes' text exactly as the fast path does.
 * Used when the fast path is switched off (NVMEPROOF_NO_FAST_PATH=1) and by the differential test.
 */
export function slowMatch(compiled: CompiledTemplate, line: string, start: number): Fields | null {
  const { g, sem } = ohmFor(compiled.pieces);
  const m = g.match(line.slice(start));
  if (m.failed()) return null;
  const types = new Map<string, HoleType>();
  const collect = (ps: Piece[]): void => ps.forEach((p) => (p.t === 'hole' ? types.set(p.name, p.type) : p.t === 'opt' ? collect(p.pieces) : undefined));
  collect(compiled.pieces);
  const out: Fields = {};
  for (const [name, text] of sem(m).holes() as [string, string][]) {
    const type = types.get(name)!;
    if (type === 'str' || type === 'word') {
      out[name] = text;
      continue;
    }
    // Type and range-check the hole text with the same scanner (a one-hole template).
    const one: Fields = {};
    if (scan([{ t: 'hole', name, type }], text, 0, one, true) !== text.length) return null;
    out[name] = one[name]!;
  }
  return out;
}

export interface Diagnosis {
  /** 0-based offset in the line where the text stops fitting. */
  offset: number;
  expected: string;
}

/** Explains why a line does not fit its template: where, and what was expected there. */
export function diagnose(compiled: CompiledTemplate, line: string, start: number, eventName: string): Diagnosis {
  const { g } = ohmFor(compiled.pieces);
  const text = line.slice(start);
  const m = g.match(text);
  if (m.failed()) {
    const off = m.getRightmostFailurePosition();
    const exp = (m.getExpectedText?.() as string | undefined) ?? 'the event template';
    return { offset: start + off, expected: `${eventName}: expected ${exp}` };
  }
  // Ohm accepts the syntax, so a value is out of its type's range (e.g. 70000 for a u16): the fast scanner knows where.
  const out: Fields = {};
  const end = scan(compiled.pieces, line, start, out, true);
  const at = end === -1 ? failPos : end;
  return { offset: at, expected: `${eventName}: value out of range for its field type (template: ${templateText(compiled.pieces)})` };
}

export function templateText(pieces: Piece[]): string {
  return pieces
    .map((p) => (p.t === 'lit' ? p.text : p.t === 'hole' ? `{${p.name}:${p.type}}` : `[${templateText(p.pieces)}]`))
    .join('');
}

/** Prints fields back through a template the way the producer's printf does (for round-trip tests). */
export function renderTemplate(pieces: Piece[], fields: Fields): string | undefined {
  let out = '';
  for (const p of pieces) {
    if (p.t === 'lit') out += p.text;
    else if (p.t === 'opt') {
      const inner = renderTemplate(p.pieces, fields);
      if (inner !== undefined) out += inner;
    } else {
      const v = fields[p.name];
      if (v === undefined) return undefined;
      out += p.type.startsWith('x') && typeof v !== 'string' ? v.toString(16) : String(v);
    }
  }
  return out;
}
