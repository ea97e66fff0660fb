import { describe, expect, it } from 'vitest';
import { closureCompile, compileAst, compileExpr, type Ast, type Scope, type Value } from '../src/rules/expr.js';

/** Rule conditions mask register fields and 64-bit addresses alike: bit operations must never wrap at 32 bits. */
describe('bit operations in rule expressions', () => {
  const values = [0, 1, 7, 0xfff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 40 + 5, 2 ** 53 - 1];
  const shifts = [0, 1, 12, 30, 31, 32, 40];
  const norm = (r: bigint): number | bigint => (r <= BigInt(Number.MAX_SAFE_INTEGER) && r >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r);
  const ops: [string, (x: bigint, y: bigint) => bigint][] = [
    ['&', (x, y) => x & y],
    ['|', (x, y) => x | y],
    ['^', (x, y) => x ^ y],
    ['<<', (x, y) => x << y],
    ['>>', (x, y) => x >> y],
  ];

  it('agree with arbitrary-precision arithmetic on 31-, 32-, 40- and 53-bit values', () => {
    for (const [op, ref] of ops) {
      const f = compileExpr(`a ${op} b`);
      const rights = op === '<<' || op === '>>' ? shifts : values;
      for (const a of values) for (const b of rights) expect(f({ a, b }), `${a} ${op} ${b}`).toEqual(norm(ref(BigInt(a), BigInt(b))));
    }
  });

  it('work on bigint operands', () => {
    expect(compileExpr('a & 0xfff')({ a: 0xffffffffffffffffn })).toBe(0xfff);
    expect(compileExpr('a >> 12')({ a: 0x1000000000000000n })).toBe(2 ** 48);
  });
});

/** The generated code and the reference closures agree on generated expressions over varied scopes. */
describe('generated expression code', () => {
  let seed = 99;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = ['a', 'b', 'c', 'o', 'f', 'missing'];
  const ops = ['||', '&&', '==', '!=', '<', '>', '<=', '>=', '&', '|', '^', '<<', '>>', '+', '-', '*', '/', '%'];
  const lits: Ast[] = [
    { t: 'lit', v: 0 }, { t: 'lit', v: 1 }, { t: 'lit', v: 4096 }, { t: 'lit', v: 'x' }, { t: 'lit', v: true }, { t: 'lit', v: null },
    { t: 'lit', v: null, big: '18446744073709551615' },
  ];
  const gen = (depth: number): Ast => {
    const k = depth <= 0 ? rnd(2) : rnd(7);
    if (k === 0) return lits[rnd(lits.length)]!;
    if (k === 1) return { t: 'var', name: names[rnd(names.length)]! };
    if (k === 2) return { t: 'not', e: gen(depth - 1) };
    if (k === 3) return { t: 'neg', e: gen(depth - 1) };
    if (k === 4) return { t: 'member', obj: rnd(2) ? { t: 'var', name: 'o' } : gen(depth - 1), key: ['x', 'y', 'length'][rnd(3)]! };
    if (k === 5) return { t: 'call', fn: ['aligned', 'min', 'max', 'bits', 'defined', 'in', 'f', 'missing'][rnd(8)]!, args: [gen(depth - 1), gen(depth - 1), gen(depth - 1)].slice(0, 1 + rnd(3)) };
    return { t: 'bin', op: ops[rnd(ops.length)]!, a: gen(depth - 1), b: gen(depth - 1) };
  };
  const scopes: Scope[] = [
    { a: 5, b: 4096, c: 'x', o: { x: 1, y: 2n }, f: (v: Value) => v },
    { a: 2n ** 60n, b: 0, c: null, o: [1, 2] as unknown as Value, f: 3 },
    { a: 0x7fffffff, b: 0xffffffff, c: true, o: null, f: (a: Value, b: Value) => [a, b] },
    { a: 1.5, b: -3, c: undefined, o: { x: 'str' } },
  ];
  const run = (f: (s: Scope) => Value, s: Scope): unknown => {
    try {
      return { ok: f(s) };
    } catch (err) {
      return { threw: (err as Error).constructor.name };
    }
  };

  it('on 3000 random expressions over four scopes', () => {
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const ast = gen(4);
      const ref = closureCompile(ast);
      const gen2 = compileAst(ast);
      for (const s of scopes) {
        expect(run(gen2, s), JSON.stringify(ast, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toEqual(run(ref, s));
        compared++;
      }
    }
    expect(compared).toBe(12000);
  });
});
