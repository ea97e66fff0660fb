import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProofCatalog } from '../src/proof/catalog.js';
import { checkSerialFile, keys, loadCases } from './proof-helpers.js';

/**
 * RuleTester-style: every serial case of conformance/proof-lines and conformance/dma-classification runs through
 * SerialProofChecker, and its error and warning findings must be exactly the expected (rule, line) pairs.
 * Every proof-line rule has a violating case that expects it and a conforming case, named after it, that
 * exercises it without a finding.
 */

const SUITES = ['conformance/proof-lines', 'conformance/dma-classification'];

describe.each(SUITES)('%s', (suite) => {
  const { dir, cases } = loadCases(suite);
  const serial = cases.filter((c) => (c.format ?? 'serial') === 'serial');

  it.each(serial.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await checkSerialFile(path.join(dir, c.file));
    const got = r.findings.filter((f) => f.severity !== 'info');
    expect(keys(got)).toEqual(keys(c.expect));
    for (const e of c.expect) {
      if (e.severity) expect(got.find((f) => f.rule === e.rule && f.line === e.line)?.severity).toBe(e.severity);
    }
    if (c.verdict === 'conforming') expect(got).toEqual([]);
    else expect(got.length).toBeGreaterThan(0);
    // Every finding is located and explained.
    for (const f of got) {
      expect(f.col).toBeGreaterThan(0);
      expect(f.section).toBeTruthy();
      expect(f.binding).toMatch(/^proof:[a-z-]+:/);
      expect(f.message).not.toMatch(/\{[a-z_]+\}/);
    }
    const rule = /^([a-z0-9-]+):/.exec(c.name)?.[1];
    if (rule && c.verdict === 'conforming') expect(r.exercised, `${rule} not exercised by ${c.file}`).toContain(rule);
  });
});

describe('coverage of the proof-line rules by conformance cases', () => {
  const all = SUITES.flatMap((s) => loadCases(s).cases);
  const cat = loadProofCatalog();
  it.each(cat.rules.map((r) => [r.meta.id]))('%s has a violating and a conforming case', (id) => {
    expect(all.some((c) => c.verdict === 'violating' && c.expect.some((e) => e.rule === id))).toBe(true);
    expect(all.some((c) => c.verdict === 'conforming' && c.name.startsWith(`${id}:`))).toBe(true);
  });
});
