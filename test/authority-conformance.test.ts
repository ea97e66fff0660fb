import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFORMANCE_DIR, runCases } from '../src/conformance/run.js';
import { loadCatalog } from '../src/rules/catalog.js';

/*
 * The authority rules (specs/rules/authority.yaml): their metadata, and their RuleTester cases in
 * conformance/authority/<rule-id>/ -- every rule fires on its violating cases at the listed lines and on nothing
 * else, and stays silent on the conforming brokered flow.
 */

const catalog = loadCatalog();
const rules = catalog.rules.filter((r) => r.meta.family === 'authority');
const DIR = path.join(CONFORMANCE_DIR, 'authority');

interface CasesDoc {
  rule: string;
  cases: { name: string; file: string; verdict: 'conforming' | 'violating'; expect: { rule: string; line: number }[] }[];
}

describe('the authority rules', () => {
  it('are the rules the brokered DMA model asks for', () => {
    expect(rules.map((r) => r.meta.id).sort()).toEqual(
      [
        'authority-address-manager-authored',
        'authority-address-in-ledger',
        'authority-address-extent-in-region',
        'authority-stale-address',
        'authority-region-manager-owned',
        'authority-region-allocated-before-use',
        'authority-ledger-id-unique',
        'authority-ledger-no-overlap',
        'authority-ledger-free-known',
        'authority-cc-reset-only',
        'authority-admin-queue-regs-brokered',
        'authority-doorbell-brokered',
        'authority-stale-doorbell',
        'authority-stale-completion',
        'authority-stale-interrupt',
        'authority-host-physical-hidden',
        'authority-iova-not-exported',
        'authority-direct-dma-blocked',
      ].sort(),
    );
  });

  for (const r of rules) {
    it(`${r.meta.id}: metadata, canonical only, generic check kind, a seed section`, () => {
      expect(r.meta.severity).toBe('error');
      expect(r.meta.formats).toEqual(['canonical']);
      expect(r.meta.section).toMatch(/seed 00[012]/);
      expect(r.meta.explanation.length).toBeGreaterThan(80);
      expect(r.meta.fix).toBeTruthy();
      expect(['assert', 'aligned']).toContain(r.spec.then.check);
      expect(r.given).toMatch(/^authority\./);
    });
  }
});

describe('conformance/authority', () => {
  const dirs = fs.readdirSync(DIR, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

  it('one directory per rule', () => {
    expect(dirs).toEqual(rules.map((r) => r.meta.id).sort());
  });

  for (const id of dirs) {
    describe(id, async () => {
      const file = path.join(DIR, id, 'cases.yaml');
      const doc = parse(fs.readFileSync(file, 'utf8')) as CasesDoc;
      const results = await runCases(file, catalog);

      it('is named after its rule; every trace is used, named valid-*/invalid-* by verdict', () => {
        expect(doc.rule).toBe(id);
        const used = new Set(doc.cases.map((c) => c.file));
        const files = fs.readdirSync(path.join(DIR, id)).filter((f) => f !== 'cases.yaml');
        expect(files.filter((f) => !used.has(f))).toEqual([]);
        for (const c of doc.cases) {
          if (c.file.startsWith('../')) expect(c.verdict).toBe('conforming');
          else expect(c.file.startsWith(c.verdict === 'conforming' ? 'valid-' : 'invalid-'), c.file).toBe(true);
        }
      });

      it('has a conforming case and a violating case that expects the rule', () => {
        expect(doc.cases.some((c) => c.verdict === 'conforming')).toBe(true);
        expect(doc.cases.some((c) => c.verdict === 'violating' && c.expect.some((e) => e.rule === id))).toBe(true);
      });

      for (const r of results) {
        it(`${r.verdict}: ${r.name}`, () => {
          expect(r.error).toBeUndefined();
          expect(r.actual).toEqual(r.expected);
        });
      }
    });
  }
});
