import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyFile, loadClassifier } from '../src/classify/classify.js';
import { loadProofCatalog } from '../src/proof/catalog.js';
import { keys, loadCases } from './proof-helpers.js';

/** The evidence cases of conformance/dma-classification: exact (rule, line) findings per evidence file. */

const { dir, cases } = loadCases('conformance/dma-classification');
const evidence = cases.filter((c) => c.format === 'evidence');
const c = loadClassifier();

describe('conformance/dma-classification (evidence rows)', () => {
  it.each(evidence.map((x) => [x.name, x] as const))('%s', (_n, cs) => {
    const r = classifyFile(path.join(dir, cs.file), c);
    const got = r.findings.filter((f) => f.severity !== 'info');
    expect(keys(got)).toEqual(keys(cs.expect));
    for (const e of cs.expect) if (e.severity) expect(got.find((f) => f.rule === e.rule && f.line === e.line)?.severity).toBe(e.severity);
    const rule = /^([a-z0-9-]+):/.exec(cs.name)?.[1];
    if (rule) expect(r.exercised).toContain(rule);
  });

  it.each(loadProofCatalog().evidenceRules.map((r) => [r.meta.id]))('%s has a violating and a conforming case', (id) => {
    expect(evidence.some((x) => x.verdict === 'violating' && x.expect.some((e) => e.rule === id))).toBe(true);
    expect(evidence.some((x) => x.verdict === 'conforming' && x.name.startsWith(`${id}:`))).toBe(true);
  });
});
