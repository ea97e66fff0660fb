import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { loadCatalog } from '../src/rules/catalog.js';
import type { Finding } from '../src/findings/finding.js';
import { CLASSES, linuxOnly, mutantsFor, type Mutant, type MutantClass, type Segment } from './mutants.js';
import { EXAMPLES, ROOT, readLines } from './helpers.js';

/*
 * Fault injection on the real traces: every mutant (test/mutants.ts) carries one host fault, and the checker
 * must report an error of the expected rule on the mutated line, and nothing earlier (the unmutated prefix is
 * a real, conforming trace). What follows the fault may legitimately produce more findings.
 */

const TRACES = ['linux-boot-smp1.log', 'linux-boot-smp2.log', 'linux-mixed-io.log'];
const catalog = loadCatalog();
const OUT = path.join(ROOT, 'tmp', 'mutants');
fs.mkdirSync(OUT, { recursive: true });

async function check(name: string, lines: string[]): Promise<Finding[]> {
  const file = path.join(OUT, name.replace(/[^\w.@-]+/g, '_') + '.log');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  try {
    return (await checkTrace(file, { catalog })).findings.filter((f) => f.severity === 'error');
  } finally {
    fs.rmSync(file, { force: true });
  }
}
const show = (fs: Finding[]): string => fs.map((f) => `${f.rule}@${f.line}: ${f.message}`).join('\n  ') || '(none)';

const bases = TRACES.map((t) => ({ trace: t, lines: readLines(path.join(EXAMPLES, t)) }));
const mutants: Mutant[] = bases.flatMap((b) => mutantsFor(b.trace, b.lines));

describe('unmutated real traces are conforming', () => {
  for (const b of bases) {
    it(`${b.trace}: no errors`, async () => {
      const errors = await check(`base-${b.trace}`, b.lines);
      expect(errors, show(errors)).toEqual([]);
    });
    it(`${b.trace} (Linux part alone, after a PCI reset): no errors`, async () => {
      const errors = await check(`base-linux-only-${b.trace}`, linuxOnly(b.lines));
      expect(errors, show(errors)).toEqual([]);
    });
  }
});

describe('single-fault mutants are reported on the mutated line', () => {
  for (const m of mutants) {
    it(m.id, async () => {
      const errors = await check(m.id, m.lines);
      const at = errors.filter((f) => f.line === m.line);
      const context = `${m.note}\n  expected: ${m.rule}@${m.line}  > ${m.lines[m.line - 1]}\n  actual errors:\n  ${show(errors.slice(0, 12))}`;
      expect(at.map((f) => f.rule), context).toContain(m.rule);
      const earlier = errors.filter((f) => f.line < m.line);
      expect(earlier.map((f) => `${f.rule}@${f.line}`), context).toEqual([]);
    });
  }
});

describe('mutant coverage', () => {
  // Classes whose fault can be placed in both drivers of a trace; the rest name where they can occur.
  const segmentsOf: Partial<Record<MutantClass, Segment[]>> = {
    'enable-before-admin-regs': ['seabios', 'linux-only'], // needs a controller fresh from a PCI reset
    'cid-reused-outstanding': ['linux'], // SeaBIOS has one command in flight at a time and no AER
    'cq-deleted-before-sq': ['linux'], // SeaBIOS never deletes queues
    'prp2-misaligned': ['linux'], // SeaBIOS transfers are single pages
    'prp-list-misaligned': ['linux'],
  };
  const onOneTrace: MutantClass[] = ['prp2-misaligned']; // two-page PRP transfers occur only in linux-mixed-io
  for (const cls of Object.keys(CLASSES) as MutantClass[]) {
    it(`${cls} (${CLASSES[cls]}): several sites, both drivers, several traces`, () => {
      const ms = mutants.filter((m) => m.cls === cls);
      expect(ms.length).toBeGreaterThanOrEqual(3);
      const segs = new Set(ms.map((m) => m.segment));
      for (const s of segmentsOf[cls] ?? ['seabios', 'linux']) expect([...segs], `segments of ${cls}`).toContain(s);
      expect(new Set(ms.map((m) => m.trace)).size).toBeGreaterThanOrEqual(onOneTrace.includes(cls) ? 1 : 2);
    });
  }
  it('every mutated trace differs from its base', () => {
    for (const m of mutants) {
      const base = bases.find((b) => b.trace === m.trace)!.lines;
      expect(m.lines.join('\n') === base.join('\n') || m.lines.join('\n') === linuxOnly(base).join('\n'), m.id).toBe(false);
    }
  });
});
