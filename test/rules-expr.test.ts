import { describe, expect, it } from 'vitest';
import { compileExpr } from '../src/rules/expr.js';

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
