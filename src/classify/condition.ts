import type * as ohm from 'ohm-js';
import { grammarFromFile } from '../util/ohm.js';

/**
 * The evidence condition language (grammar/evidence-condition.ohm), compiled once to closures. Facts are a flat
 * map from dotted names (`kernel.iommu`) to a string, number or boolean; a fact that was not observed is absent.
 * Every comparison is fail-closed: against an absent fact it is false (so is `!=`). Evaluation records each
 * atom it looked at, so a classification can show why a step matched or did not.
 */

export type FactValue = string | number | boolean;
export type Facts = Record<string, FactValue | undefined>;

export interface Atom {
  text: string;
  ok: boolean;
  /** The observed value, or undefined when the fact was not observed. */
  actual: FactValue | undefined;
  fact: string;
}

export type Condition = ((facts: Facts, trace?: Atom[]) => boolean) & { source: string; facts: string[] };

export class ConditionError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ConditionError';
  }
}

type Eval = (facts: Facts, trace?: Atom[]) => boolean;

let grammar: ohm.Grammar | undefined;
let semantics: ohm.Semantics | undefined;

function conditionGrammar(): ohm.Grammar {
  grammar ??= grammarFromFile('evidence-condition.ohm');
  return grammar;
}

function literalValue(node: ohm.Node): FactValue {
  const s = node.sourceString;
  if (/^[0-9]+$/.test(s)) return Number(s);
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (s.startsWith('"')) return s.slice(1, -1);
  return s;
}

function compare(op: string, actual: FactValue, expected: FactValue): boolean {
  switch (op) {
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
    default: {
      if (typeof actual !== 'number' || typeof expected !== 'number') return false;
      if (op === '>') return actual > expected;
      if (op === '<') return actual < expected;
      if (op === '>=') return actual >= expected;
      return actual <= expected;
    }
  }
}

function record(trace: Atom[] | undefined, atom: Atom): boolean {
  trace?.push(atom);
  return atom.ok;
}

function conditionSemantics(): ohm.Semantics {
  if (semantics) return semantics;
  const s = conditionGrammar().createSemantics();
  s.addOperation<Eval>('compile', {
    Or_or(a, _or, b) {
      const x = a.compile() as Eval;
      const y = b.compile() as Eval;
      return (f, t) => x(f, t) || y(f, t);
    },
    And_and(a, _and, b) {
      const x = a.compile() as Eval;
      const y = b.compile() as Eval;
      return (f, t) => x(f, t) && y(f, t);
    },
    Not_not(_not, a) {
      const x = a.compile() as Eval;
      // Atoms under `not` are recorded negated, so a trace reads in the direction of the whole condition.
      return (f, t) => {
        const sub: Atom[] | undefined = t ? [] : undefined;
        const r = !x(f, sub);
        if (t && sub) for (const at of sub) t.push({ ...at, text: `not ${at.text}`, ok: !at.ok });
        return r;
      };
    },
    Primary_paren(_o, e, _c) {
      return e.compile() as Eval;
    },
    Primary_in(p, _in, _o, list, _c) {
      const fact = p.sourceString;
      const values = list.asIteration().children.map(literalValue);
      const text = this.sourceString;
      return (f, t) => {
        const actual = f[fact];
        return record(t, { text, fact, actual, ok: actual !== undefined && values.includes(actual) });
      };
    },
    Primary_cmp(p, op, lit) {
      const fact = p.sourceString;
      const o = op.sourceString;
      const expected = literalValue(lit);
      const text = this.sourceString;
      return (f, t) => {
        const actual = f[fact];
        return record(t, { text, fact, actual, ok: actual !== undefined && compare(o, actual, expected) });
      };
    },
    Primary_unknown(p, _is, _u) {
      const fact = p.sourceString;
      const text = this.sourceString;
      return (f, t) => record(t, { text, fact, actual: f[fact], ok: f[fact] === undefined });
    },
    Primary_known(p, _is, _k) {
      const fact = p.sourceString;
      const text = this.sourceString;
      return (f, t) => record(t, { text, fact, actual: f[fact], ok: f[fact] !== undefined });
    },
    Primary_true(_t) {
      return () => true;
    },
    Primary_false(_f) {
      return () => false;
    },
    Primary_truthy(p) {
      const fact = p.sourceString;
      const text = this.sourceString;
      return (f, t) => {
        const actual = f[fact];
        return record(t, { text, fact, actual, ok: actual === true || (typeof actual === 'number' && actual > 0) });
      };
    },
  });
  s.addOperation<string[]>('facts', {
    _nonterminal(...children) {
      return children.flatMap((c) => c.facts() as string[]);
    },
    _iter(...children) {
      return children.flatMap((c) => c.facts() as string[]);
    },
    _terminal() {
      return [];
    },
    path(_first, _dots, _rest) {
      return [this.sourceString];
    },
    ListOf(_l) {
      return [];
    },
  });
  semantics = s;
  return s;
}

const cache = new Map<string, Condition>();

/** Compiles a condition; throws ConditionError (with the offset of the problem) when it does not parse. */
export function compileCondition(source: string): Condition {
  const hit = cache.get(source);
  if (hit) return hit;
  const m = conditionGrammar().match(source);
  if (m.failed()) {
    const pos = m.getRightmostFailurePosition();
    throw new ConditionError(`condition does not parse at offset ${pos}: expected ${m.getExpectedText()}`, pos);
  }
  const sem = conditionSemantics()(m);
  const fn = sem.compile() as Eval;
  const facts = [...new Set(sem.facts() as string[])];
  const c = Object.assign((f: Facts, t?: Atom[]) => fn(f, t), { source, facts });
  cache.set(source, c);
  return c;
}

export function describeAtom(a: Atom): string {
  const seen = a.actual === undefined ? 'not observed' : `observed ${JSON.stringify(a.actual)}`;
  return `${a.ok ? '✓' : '✗'} ${a.text} (${seen})`;
}
