import type * as ohm from 'ohm-js';
import { grammarFromFile } from '../util/ohm.js';
import { cached, cacheKey } from '../util/cache.js';

/**
 * The rule condition language: grammar/expr.ohm, compiled once to a function per expression (see compileAst
 * for why that generated code is no more powerful than the closures it replaced): a user's own rule files can
 * only read the scope the model provides and call the builtins.
 */

export type Value = number | bigint | string | boolean | null | undefined | Scope | ((...args: Value[]) => Value) | Value[];
export interface Scope {
  [name: string]: Value;
}
export type Compiled = (scope: Scope) => Value;

let grammar: ohm.Grammar | undefined;
let semantics: ohm.Semantics | undefined;

function bothBig(a: Value, b: Value): boolean {
  return typeof a === 'bigint' || typeof b === 'bigint';
}
function big(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}
function num(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}
/** The bit operators, for two numbers or two bigints alike (JavaScript's operators take either, not a mix). */
const BIT_OPS: Record<string, (x: number & bigint, y: number & bigint) => number | bigint> = {
  '&': (x, y) => x & y,
  '|': (x, y) => x | y,
  '^': (x, y) => x ^ y,
  '<<': (x, y) => x << y,
  '>>': (x, y) => x >> y,
};

/** Bit operations on numbers beyond 32 bits must not wrap like JS's int32 operators do. */
function bitop(op: string, a: Value, b: Value): Value {
  const f = BIT_OPS[op]!;
  // Both non-negative 31-bit integers and a result that stays one (register fields, flags, small shifts):
  // the int32 operators agree with bigint arithmetic there.
  if (typeof a === 'number' && typeof b === 'number' && (a | 0) === a && (b | 0) === b && a >= 0 && b >= 0) {
    if (op === '<<' ? b < 31 && a < 2 ** (31 - b) : op !== '>>' || b < 31) return f(a as never, b as never);
  }
  const r = f(big(a) as never, big(b) as never) as bigint;
  return r <= BigInt(Number.MAX_SAFE_INTEGER) && r >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r;
}
function arith(op: string, a: Value, b: Value): Value {
  if (bothBig(a, b)) {
    const x = big(a);
    const y = big(b);
    switch (op) {
      case '+':
        return x + y;
      case '-':
        return x - y;
      case '*':
        return x * y;
      case '/':
        return y === 0n ? null : x / y;
      default:
        return y === 0n ? null : x % y;
    }
  }
  const x = num(a);
  const y = num(b);
  switch (op) {
    case '+':
      return typeof a === 'string' || typeof b === 'string' ? String(a) + String(b) : x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return y === 0 ? null : Math.trunc(x / y);
    default:
      return y === 0 ? null : x % y;
  }
}
function compare(op: string, a: Value, b: Value): boolean {
  if (op === '==' || op === '!=') {
    let eq: boolean;
    if (typeof a === 'number' && typeof b === 'number') eq = a === b;
    else if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) eq = big(a) === big(b) && num(a) === num(b);
    else eq = a === b || (a == null && b == null);
    return op === '==' ? eq : !eq;
  }
  if (a == null || b == null) return false;
  if (typeof a === 'string' && typeof b === 'string') {
    return op === '<' ? a < b : op === '>' ? a > b : op === '<=' ? a <= b : a >= b;
  }
  if (bothBig(a, b)) {
    const x = big(a);
    const y = big(b);
    return op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y;
  }
  const x = num(a);
  const y = num(b);
  return op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y;
}
export function truthy(v: Value): boolean {
  if (typeof v === 'bigint') return v !== 0n;
  return Boolean(v);
}

/** Functions every expression can call, besides those the model puts in scope. */
export const BUILTINS: Record<string, (...args: Value[]) => Value> = {
  aligned: (v, n) => (v == null ? true : bitop('&', v, arith('-', n, 1)) === 0),
  min: (...xs) => xs.reduce((a, b) => (compare('<', b, a) ? b : a)),
  max: (...xs) => xs.reduce((a, b) => (compare('>', b, a) ? b : a)),
  bits: (v, hi, lo) => bitop('&', bitop('>>', v, lo), arith('-', bitop('<<', 1, arith('+', arith('-', hi, lo), 1)), 1)),
  pow2: (n) => bitop('<<', 1, n),
  defined: (v) => v !== undefined && v !== null,
  hex: (v) => (typeof v === 'number' || typeof v === 'bigint' ? '0x' + v.toString(16) : String(v)),
  in: (v, ...xs) => xs.some((x) => compare('==', v, x)),
  /** contains(text, part): text includes part (both strings). */
  contains: (t, part) => typeof t === 'string' && typeof part === 'string' && t.includes(part),
};

/** Expression syntax tree: plain data, so parsed expressions can be cached by their source text. */
export type Ast =
  | { t: 'bin'; op: string; a: Ast; b: Ast }
  | { t: 'not'; e: Ast }
  | { t: 'neg'; e: Ast }
  | { t: 'call'; fn: string; args: Ast[] }
  | { t: 'member'; obj: Ast; key: string }
  | { t: 'lit'; v: number | string | boolean | null; big?: string }
  | { t: 'var'; name: string };

function loadGrammar(): { g: ohm.Grammar; sem: ohm.Semantics } {
  if (!grammar || !semantics) {
    grammar = grammarFromFile('expr.ohm');
    const bin = (a: ohm.Node, op: ohm.Node, b: ohm.Node): Ast => ({ t: 'bin', op: op.sourceString, a: a.ast() as Ast, b: b.ast() as Ast });
    semantics = grammar.createSemantics().addOperation('ast', {
      Exp: (e) => e.ast(),
      OrExp_or: (a, _op, b) => ({ t: 'bin', op: '||', a: a.ast() as Ast, b: b.ast() as Ast }),
      AndExp_and: (a, _op, b) => ({ t: 'bin', op: '&&', a: a.ast() as Ast, b: b.ast() as Ast }),
      CmpExp_cmp: bin,
      BitExp_bit: bin,
      AddExp_add: bin,
      MulExp_mul: bin,
      UnExp_not: (_op, e) => ({ t: 'not', e: e.ast() as Ast }),
      UnExp_neg: (_op, e) => ({ t: 'neg', e: e.ast() as Ast }),
      PostExp_call: (name, _o, args, _c) => ({ t: 'call', fn: name.sourceString, args: args.asIteration().children.map((c) => c.ast() as Ast) }),
      PostExp_member: (obj, _dot, name) => ({ t: 'member', obj: obj.ast() as Ast, key: name.sourceString }),
      Primary_paren: (_o, e, _c) => e.ast(),
      Primary: (e) => e.ast(),
      number_hex(_p, digits) {
        const v = BigInt('0x' + digits.sourceString);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? { t: 'lit', v: Number(v) } : { t: 'lit', v: null, big: v.toString() };
      },
      number_dec(digits) {
        const v = BigInt(digits.sourceString);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? { t: 'lit', v: Number(v) } : { t: 'lit', v: null, big: v.toString() };
      },
      string: (_o, chars, _c) => ({ t: 'lit', v: chars.sourceString }),
      ident(_first, _rest) {
        return { t: 'var', name: this.sourceString };
      },
      literal(_k) {
        const v = this.sourceString.trim();
        return { t: 'lit', v: v === 'true' ? true : v === 'false' ? false : null };
      },
    });
  }
  return { g: grammar, sem: semantics };
}

const OP_KINDS = new Map<string, 'or' | 'and' | 'compare' | 'bit'>([
  ['||', 'or'],
  ['&&', 'and'],
  ...(['==', '!=', '<', '>', '<=', '>='] as const).map((o) => [o, 'compare'] as const),
  ...(['&', '|', '^', '<<', '>>'] as const).map((o) => [o, 'bit'] as const),
]);

/** What a binary operator is: short-circuit logic, a comparison, a bit operation, or arithmetic. */
function opKind(op: string): 'or' | 'and' | 'compare' | 'bit' | 'arith' {
  return OP_KINDS.get(op) ?? 'arith';
}

/**
 * The reference semantics: a syntax tree turned into nested closures. Simple, but every variable read of every
 * rule runs through the same closure code, so V8 sees one property-load site for all scopes and names
 * (megamorphic). compileAst generates code with the same meaning; test/rules-expr.test.ts holds the two
 * together on generated expressions.
 */
export function closureCompile(n: Ast): Compiled {
  switch (n.t) {
    case 'lit': {
      const v: Value = n.big !== undefined ? BigInt(n.big) : n.v;
      return () => v;
    }
    case 'var': {
      const name = n.name;
      return (s) => s[name];
    }
    case 'not': {
      const x = closureCompile(n.e);
      return (s) => !truthy(x(s));
    }
    case 'neg': {
      const x = closureCompile(n.e);
      return (s) => arith('-', 0, x(s));
    }
    case 'member': {
      const o = closureCompile(n.obj);
      const key = n.key;
      return (s) => {
        const v = o(s);
        return v && typeof v === 'object' && !Array.isArray(v) ? (v as Scope)[key] : undefined;
      };
    }
    case 'call': {
      const fn = n.fn;
      const xs = n.args.map(compileAst);
      const builtin = BUILTINS[fn];
      return (s) => {
        const f = builtin ?? s[fn];
        if (typeof f !== 'function') return undefined;
        return f(...xs.map((x) => x(s)));
      };
    }
    case 'bin': {
      const x = closureCompile(n.a);
      const y = closureCompile(n.b);
      const o = n.op;
      switch (opKind(o)) {
        case 'or':
          return (s) => truthy(x(s)) || truthy(y(s));
        case 'and':
          return (s) => truthy(x(s)) && truthy(y(s));
        case 'compare':
          return (s) => compare(o, x(s), y(s));
        case 'bit':
          return (s) => bitop(o, x(s), y(s));
        default:
          return (s) => arith(o, x(s), y(s));
      }
    }
  }
}

/** The language's comparison operators as JavaScript's on two numbers (a fixed table: nothing is pasted in). */
const JS_COMPARE: Record<string, string> = { '==': '===', '!=': '!==', '<': '<', '>': '>', '<=': '<=', '>=': '>=' };

/** What generated expression code may call: the evaluation helpers and the builtins, nothing else. */
const HELPERS = { truthy, compare, bitop, arith, BUILTINS };

/**
 * Turns a syntax tree into one JavaScript function, once (as ajv does with schemas): every variable read is its
 * own property-load site, so V8 specialises it to the scope it sees. Nothing from the rule file is pasted in as
 * code: names and strings go through JSON.stringify (as property keys and string literals), numbers are
 * numbers, big literals and builtins are passed in as values; the generated function can read only the scope
 * it is given and call only the helpers above and the functions the scope provides — exactly what the closure
 * compiler allows.
 */
export function compileAst(n: Ast): Compiled {
  const g = new ExprCodeGen();
  const expr = g.gen(n);
  return g.build('s', `return ${expr};`) as Compiled;
}

/**
 * JavaScript source for expressions over one scope `s`, sharing constants and temporaries: compileAst makes one
 * function of one expression; the rule engine makes one function of every rule at a hook (engine.ts).
 */
export class ExprCodeGen {
  private readonly consts: Value[] = [];
  private temps = 0;

  /**
   * vars: the code that reads a variable (default: the scope's property of that name). The normalisers of
   * src/normalise/compile.ts read template fields from locals instead.
   */
  constructor(private readonly vars?: (name: string) => string) {}

  /** A fresh temporary variable (declared by build()). */
  temp(): string {
    return `t${this.temps++}`;
  }

  /** A value the code reads as K[i] (big literals, builtins, anything that must not be pasted in as text). */
  constant(v: Value): string {
    this.consts.push(v);
    return `K[${this.consts.length - 1}]`;
  }

  gen(n: Ast): string {
    const q = (x: string): string => JSON.stringify(x);
    switch (n.t) {
      case 'lit':
        if (n.big !== undefined) return this.constant(BigInt(n.big));
        if (typeof n.v === 'string') return q(n.v);
        return n.v === null ? 'null' : String(n.v);
      case 'var':
        return this.vars ? this.vars(n.name) : `s[${q(n.name)}]`;
      case 'not':
        return `!${this.truthy(this.gen(n.e))}`;
      case 'neg':
        return `H.arith("-", 0, ${this.gen(n.e)})`;
      case 'member': {
        const t = this.temp();
        return `((${t} = ${this.gen(n.obj)}) && typeof ${t} === "object" && !Array.isArray(${t}) ? ${t}[${q(n.key)}] : undefined)`;
      }
      case 'call': {
        const args = n.args.map((x) => this.gen(x)).join(', ');
        if (BUILTINS[n.fn] !== undefined) return `${this.constant(BUILTINS[n.fn]!)}(${args})`;
        const t = this.temp();
        return `(typeof (${t} = s[${q(n.fn)}]) === "function" ? ${t}(${args}) : undefined)`;
      }
      case 'bin': {
        const a = this.gen(n.a);
        const b = this.gen(n.b);
        switch (opKind(n.op)) {
          case 'or':
            return `(${this.truthy(a)} || ${this.truthy(b)})`;
          case 'and':
            return `(${this.truthy(a)} && ${this.truthy(b)})`;
          case 'compare':
            // Two numbers (nearly every comparison a rule makes) compare inline; anything else as compare() says.
            return this.numbersInline(a, b, JS_COMPARE[n.op]!, `H.compare(${q(n.op)}`);
          case 'bit':
            return `H.bitop(${q(n.op)}, ${a}, ${b})`;
          default:
            if (n.op !== '+' && n.op !== '-' && n.op !== '*') return `H.arith(${q(n.op)}, ${a}, ${b})`;
            // Sums, differences and products of two numbers (a rule's LBA and length arithmetic) inline too.
            return this.numbersInline(a, b, n.op, `H.arith(${q(n.op)}`);
        }
      }
    }
  }

  /** `a js b` when both are numbers, else the helper call (`call` up to its first argument) on them. */
  private numbersInline(a: string, b: string, js: string, call: string): string {
    const x = this.temp();
    const y = this.temp();
    return `((${x} = ${a}), (${y} = ${b}), typeof ${x} === "number" && typeof ${y} === "number" ? ${x} ${js} ${y} : ${call}, ${x}, ${y}))`;
  }

  /** Code for truthy(code): booleans (what rules mostly test) inline. */
  truthy(code: string): string {
    const t = this.temp();
    return `((${t} = ${code}) === true || (${t} !== false && H.truthy(${t})))`;
  }

  /** One function of the given parameters (the first is the scope `s`) running body, with the temporaries declared. */
  build(params: string, body: string): (...args: never[]) => unknown {
    const decl = this.temps ? `let ${Array.from({ length: this.temps }, (_, i) => `t${i}`).join(', ')}; ` : '';
    return new Function('H', 'K', `return (${params}) => { ${decl}${body} };`)(HELPERS, this.consts) as (...args: never[]) => unknown;
  }
}

export class ExprError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export function parseExpr(src: string): Ast {
  const { g, sem } = loadGrammar();
  const m = g.match(src);
  if (m.failed()) {
    const off = m.getRightmostFailurePosition();
    throw new ExprError(`expression syntax error at column ${off + 1}: expected ${m.getExpectedText()}`, off);
  }
  return sem(m).ast() as Ast;
}

export function compileExpr(src: string): Compiled {
  return compileAst(parseExpr(src));
}

/**
 * compileExpr with the syntax tree cached by source text (parsing with Ohm is the slow part of loading a
 * catalog). Throws ExprError for bad syntax, cached or not.
 */
/** A parse as plain data (a tree, or the error parseExpr would throw), so that it can be cached. */
type ParsedOrError = Ast | { error: string; offset: number };

function parseForCache(src: string): ParsedOrError {
  try {
    return parseExpr(src);
  } catch (err) {
    if (err instanceof ExprError) return { error: err.message, offset: err.offset };
    throw err;
  }
}

/** The syntax tree of an expression (cached by its text); throws ExprError. */
export function parseExprCached(src: string): Ast {
  const ast = cached<ParsedOrError>(cacheKey('expr-v1', src), () => parseForCache(src));
  if ('error' in ast) throw new ExprError(ast.error, ast.offset);
  return ast;
}

/**
 * The syntax trees of many expressions at once, cached as one entry (a rule file's expressions: one cache read
 * instead of one per expression). Each is a tree or the ExprError parseExpr would throw.
 */
export function parseExprsCached(sources: string[]): Map<string, Ast | ExprError> {
  const uniq = [...new Set(sources)];
  const trees = cached<ParsedOrError[]>(cacheKey('exprs-v1', ...uniq), () => uniq.map(parseForCache));
  return new Map(
    uniq.map((src, i) => {
      const t = trees[i]!;
      return [src, 'error' in t ? new ExprError(t.error, t.offset) : t];
    }),
  );
}

export function compileExprCached(src: string): Compiled {
  return compileAst(parseExprCached(src));
}
