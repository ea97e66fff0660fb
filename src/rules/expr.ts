import fs from 'node:fs';
import * as ohm from 'ohm-js';
import { grammarPath } from '../util/paths.js';

/**
 * The rule condition language: grammar/expr.ohm, compiled once to closures. No eval, no Function:
 * a user's own rule files can only read the scope the model provides.
 */

export type Value = number | bigint | string | boolean | null | undefined | Scope | ((...args: Value[]) => Value) | Value[];
export interface Scope {
  [name: string]: Value;
}
export type Compiled = (scope: Scope) => Value;

const grammar = ohm.grammar(fs.readFileSync(grammarPath('expr.ohm'), 'utf8'));

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
/** Bit operations on numbers beyond 32 bits must not wrap like JS's int32 operators do. */
function bitop(op: string, a: Value, b: Value): Value {
  const r = ((x: bigint, y: bigint): bigint => {
    switch (op) {
      case '&':
        return x & y;
      case '|':
        return x | y;
      case '^':
        return x ^ y;
      case '<<':
        return x << y;
      default:
        return x >> y;
    }
  })(big(a), big(b));
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
    if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) eq = big(a) === big(b) && num(a) === num(b);
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
};

const semantics = grammar.createSemantics().addOperation('compile', {
  Exp(e) {
    return e.compile();
  },
  OrExp_or(a, _op, b) {
    const x = a.compile() as Compiled;
    const y = b.compile() as Compiled;
    return (s: Scope) => truthy(x(s)) || truthy(y(s));
  },
  AndExp_and(a, _op, b) {
    const x = a.compile() as Compiled;
    const y = b.compile() as Compiled;
    return (s: Scope) => truthy(x(s)) && truthy(y(s));
  },
  CmpExp_cmp(a, op, b) {
    const x = a.compile() as Compiled;
    const y = b.compile() as Compiled;
    const o = op.sourceString;
    return (s: Scope) => compare(o, x(s), y(s));
  },
  BitExp_bit(a, op, b) {
    const x = a.compile() as Compiled;
    const y = b.compile() as Compiled;
    const o = op.sourceString;
    return (s: Scope) => bitop(o, x(s), y(s));
  },
  AddExp_add(a, op, b) {
    const x = a.compile() as Compiled;
    const y = b.compile() as Compiled;
    const o = op.sourceString;
    return (s: Scope) => arith(o, x(s), y(s));
  },
  MulExp_mul(a, op, b) {
    const x = a.compile() as Compiled;
    const y = b.compile() as Compiled;
    const o = op.sourceString;
    return (s: Scope) => arith(o, x(s), y(s));
  },
  UnExp_not(_op, e) {
    const x = e.compile() as Compiled;
    return (s: Scope) => !truthy(x(s));
  },
  UnExp_neg(_op, e) {
    const x = e.compile() as Compiled;
    return (s: Scope) => arith('-', 0, x(s));
  },
  PostExp_call(name, _o, args, _c) {
    const fn = name.sourceString;
    const xs = args.asIteration().children.map((c) => c.compile() as Compiled);
    const builtin = BUILTINS[fn];
    return (s: Scope) => {
      const f = builtin ?? s[fn];
      if (typeof f !== 'function') return undefined;
      return f(...xs.map((x) => x(s)));
    };
  },
  PostExp_member(obj, _dot, name) {
    const o = obj.compile() as Compiled;
    const key = name.sourceString;
    return (s: Scope) => {
      const v = o(s);
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Scope)[key] : undefined;
    };
  },
  Primary_paren(_o, e, _c) {
    return e.compile();
  },
  number_hex(_p, digits) {
    const v = BigInt('0x' + digits.sourceString);
    const n = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    return () => n;
  },
  number_dec(digits) {
    const v = BigInt(digits.sourceString);
    const n = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    return () => n;
  },
  string(_o, chars, _c) {
    const v = chars.sourceString;
    return () => v;
  },
  ident(_first, _rest) {
    const name = this.sourceString;
    return (s: Scope) => s[name];
  },
  literal(_k) {
    const v = this.sourceString.trim();
    const c = v === 'true' ? true : v === 'false' ? false : null;
    return () => c;
  },
  Primary(e) {
    return e.compile();
  },
});

export class ExprError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export function compileExpr(src: string): Compiled {
  const m = grammar.match(src);
  if (m.failed()) {
    const off = m.getRightmostFailurePosition();
    throw new ExprError(`expression syntax error at column ${off + 1}: expected ${m.getExpectedText()}`, off);
  }
  return semantics(m).compile() as Compiled;
}
