import type * as ohm from 'ohm-js';
import { grammarFromFile, ohmLib } from '../util/ohm.js';

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

let templateGrammar: ohm.Grammar | undefined;
let templateSemantics: ohm.Semantics | undefined;

function templateParser(): { g: ohm.Grammar; sem: ohm.Semantics } {
  if (!templateGrammar || !templateSemantics) {
    templateGrammar = grammarFromFile('event-template.ohm');
    templateSemantics = templateGrammar.createSemantics().addOperation('pieces', PIECES_ACTIONS);
  }
  return { g: templateGrammar, sem: templateSemantics };
}

const PIECES_ACTIONS: ohm.ActionDict<unknown> = {
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
};

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
  const { g, sem } = templateParser();
  const m = g.match(template);
  if (m.failed()) {
    const off = m.getRightmostFailurePosition();
    throw new TemplateError(`bad event template at column ${off + 1}: ${m.shortMessage ?? 'syntax error'}`, off);
  }
  const pieces = sem(m).pieces() as Piece[];
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
  readonly ops: Op[];
  fieldNames: string[];
  /** The type of each field, in fieldNames order. */
  fieldTypes: HoleType[];
  /** Returns the fields, or null when the line does not fit (then ask diagnose()). */
  match(line: string, start: number): Fields | null;
  /** Checks the line fits, writing fields into a caller-owned scratch object (no allocation). */
  fits(line: string, start: number, scratch: Fields): boolean;
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

/**
 * Pieces compiled to ops of one object shape (monomorphic for V8): the scanner switches on a small integer
 * instead of comparing type names and looking limits up by key.
 */
export const K_LIT = 0;
export const K_OPT = 1;
export const K_STR = 2;
export const K_WORD = 3;
export const K_DEC = 4;
export const K_HEX = 5;

export interface Op {
  k: number;
  text: string; // literal text (K_LIT)
  name: string; // field name (holes)
  max: number; // max digits
  lim: number; // max value for widths below 53 bits, else -1
  signed: boolean;
  sub: Op[] | null; // K_OPT
  /** K_STR: the literal that ends it, and whether that literal must end the line. */
  until: string | null;
  anchored: boolean;
}

export function toOps(pieces: Piece[], top: boolean): Op[] {
  return pieces.map((p, i): Op => {
    const op: Op = { k: K_LIT, text: '', name: '', max: 0, lim: -1, signed: false, sub: null, until: null, anchored: false };
    if (p.t === 'lit') op.text = p.text;
    else if (p.t === 'opt') {
      op.k = K_OPT;
      op.sub = toOps(p.pieces, false);
    } else {
      op.name = p.name;
      if (p.type === 'str') {
        op.k = K_STR;
        const next = pieces[i + 1];
        op.until = next && next.t === 'lit' ? next.text : null;
        op.anchored = top && i + 2 === pieces.length;
        if (!next) op.anchored = top;
      } else if (p.type === 'word') op.k = K_WORD;
      else {
        op.k = p.type.startsWith('x') ? K_HEX : K_DEC;
        op.max = MAX_DIGITS[p.type]!;
        op.lim = LIMIT[p.type] ?? -1;
        op.signed = p.type.startsWith('i');
        if (p.type === 'i32') op.lim = 0x7fffffff;
      }
    }
    return op;
  });
}

/** Scans a line against ops; returns the end position or -1 (failPos says where). Writes holes into out. */
function scan(ops: Op[], line: string, pos: number, out: Fields): number {
  const n = ops.length;
  const len = line.length;
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    switch (op.k) {
      case K_LIT:
        if (!line.startsWith(op.text, pos)) return fail(pos);
        pos += op.text.length;
        continue;
      case K_OPT: {
        const r = scan(op.sub!, line, pos, out);
        if (r !== -1) pos = r;
        continue;
      }
      case K_WORD: {
        let end = pos;
        while (end < len) {
          const c = line.charCodeAt(end);
          if (c === 32 || c === 44 || c === 41 || c === 93 || c === 9) break; // space , ) ]
          end++;
        }
        if (end === pos) return fail(pos);
        out[op.name] = line.slice(pos, end);
        pos = end;
        continue;
      }
      case K_STR: {
        let end: number;
        const until = op.until;
        if (until === null) {
          if (!op.anchored) return fail(pos);
          end = len;
        } else if (op.anchored) {
          // The last literal of a template anchors at the line end; others at their first occurrence.
          end = line.endsWith(until) ? len - until.length : -1;
          if (end < pos) return fail(pos);
        } else {
          end = line.indexOf(until, pos);
          if (end === -1) return fail(pos);
        }
        out[op.name] = line.slice(pos, end);
        pos = end;
        continue;
      }
      default: {
        const start = pos;
        let neg = false;
        if (op.signed && line.charCodeAt(pos) === 45) {
          neg = true;
          pos++;
        }
        let v = 0;
        const digitsStart = pos;
        if (op.k === K_HEX) {
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
        if (nd === 0 || nd > op.max) return fail(start);
        if (v > Number.MAX_SAFE_INTEGER) {
          const digits = line.slice(digitsStart, pos);
          const big = BigInt(op.k === K_HEX ? '0x' + digits : digits);
          if (big > 0xffffffffffffffffn) return fail(start);
          out[op.name] = neg ? -big : big;
          continue;
        }
        if (op.lim !== -1 && v > (neg ? op.lim + 1 : op.lim)) return fail(start);
        out[op.name] = neg ? -v : v;
      }
    }
  }
  return pos;
}

export function compileTemplate(template: string): CompiledTemplate {
  return compilePieces(parseTemplate(template));
}

/** Builds the matcher from already-parsed pieces (from the template cache). */
export function compilePieces(pieces: Piece[]): CompiledTemplate {
  const fieldNames: string[] = [];
  const fieldTypes: HoleType[] = [];
  const collect = (ps: Piece[]): void =>
    ps.forEach((p) => (p.t === 'hole' ? (fieldNames.push(p.name), fieldTypes.push(p.type)) : p.t === 'opt' ? collect(p.pieces) : undefined));
  collect(pieces);
  // Scanner ops and validator are made on first use: a trace uses a few dozen of the ~200 templates, and the
  // typed path (parse/qemu-wasm.ts) needs neither.
  let ops: Op[] | undefined;
  let validator: RegExp | undefined;
  return {
    pieces,
    get ops(): Op[] {
      return (ops ??= toOps(pieces, true));
    },
    fieldNames,
    fieldTypes,
    match(line: string, start: number): Fields | null {
      const out: Fields = {};
      const end = scan((ops ??= toOps(pieces, true)), line, start, out);
      return end === line.length ? out : null;
    },
    fits(line: string, start: number, _scratch: Fields): boolean {
      const re = (validator ??= validatorFor(pieces));
      re.lastIndex = start;
      return re.test(line);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Validation without values: the same language as `scan`, as one sticky regular expression (V8 compiles it to
// machine code; about four times faster than the scanner). Used for events the consumer does not need, which
// must still fit their template. The differential test holds it to the scanner's verdict on every corpus line.

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A regex for decimal strings whose value is at most `max` (a decimal string), leading zeros included. */
function atMost(max: string): string {
  const alts: string[] = [];
  if (max.length > 1) alts.push(`\\d{1,${max.length - 1}}`);
  for (let i = 0; i < max.length; i++) {
    const d = Number(max[i]);
    if (d === 0) continue;
    const rest = max.length - i - 1;
    alts.push(`${max.slice(0, i)}[0-${d - 1}]${rest ? `\\d{${rest}}` : ''}`);
  }
  alts.push(max);
  return `(?:${alts.join('|')})`;
}

const DEC_MAX: Record<string, string> = { u8: '255', u16: '65535', u32: '4294967295', u64: '18446744073709551615' };

function holeRe(type: HoleType): string {
  if (type.startsWith('x')) return `[0-9a-fA-F]{1,${MAX_DIGITS[type]}}(?![0-9a-fA-F])`;
  const digits = `(?=\\d{1,${MAX_DIGITS[type]}}(?!\\d))`;
  if (type === 'i32') return `(?:-${digits}${atMost('2147483648')}|${digits}${atMost('2147483647')})(?!\\d)`;
  if (type === 'i64') return `-?${digits}\\d+`;
  return `${digits}${atMost(DEC_MAX[type]!)}(?!\\d)`;
}

function piecesToRe(pieces: Piece[], top: boolean): string {
  return pieces
    .map((p, i) => {
      if (p.t === 'lit') return escapeRe(p.text);
      // The scanner commits to an optional group once it fits: an atomic group, emulated with a lookahead.
      if (p.t === 'opt') return `(?=((?:${piecesToRe(p.pieces, false)})?))\\${OPT_GROUP}`;
      if (p.type === 'word') return '[^ ,)\\]\\t]+';
      if (p.type !== 'str') return holeRe(p.type);
      const next = pieces[i + 1];
      if (!next || next.t !== 'lit') return top && !next ? '[^]*' : '(?!)';
      if (top && i + 2 === pieces.length) return '[^]*?';
      return `(?:(?!${escapeRe(next.text)})[^])*`;
    })
    .join('');
}

/** Templates have at most one optional group; its capture is group 1. */
const OPT_GROUP = 1;

function validatorFor(pieces: Piece[]): RegExp {
  return new RegExp(`${piecesToRe(pieces, true)}$`, 'y');
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
  const g = ohmLib().grammar(src);
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
    if (scan(toOps([{ t: 'hole', name, type }], true), text, 0, one) !== text.length) return null;
    out[name] = one[name]!;
  }
  return out;
}

/** Lines longer than this are explained by the fast scanner alone. */
export const MAX_OHM_DIAGNOSIS = 2000;

export interface Diagnosis {
  /** 0-based offset in the line where the text stops fitting. */
  offset: number;
  expected: string;
}

/** Explains why a line does not fit its template: where, and what was expected there. */
export function diagnose(compiled: CompiledTemplate, line: string, start: number, eventName: string): Diagnosis {
  if (line.length - start > MAX_OHM_DIAGNOSIS) {
    // Ohm's memo tables grow with the input; no real event line is this long, and the fast scanner knows where it broke.
    const end = scan(compiled.ops, line, start, {});
    const at = end === -1 ? failPos : end;
    return { offset: at, expected: `${eventName}: line of ${line.length} characters does not fit the template (${templateText(compiled.pieces)})` };
  }
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
  const end = scan(compiled.ops, line, start, out);
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
