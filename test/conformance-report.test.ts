import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { loadCatalog } from '../src/rules/catalog.js';
import { buildConformanceReport, renderConformanceMarkdown, REPORT_JSON, REPORT_MD } from '../src/conformance/report.js';

/** reports/ always says where the checker stands: the committed conformance report must be current. */
describe('reports/conformance.md', () => {
  it('is current (run `npx nvmeproof conformance --update` after changing rules or cases)', async () => {
    const report = await buildConformanceReport(loadCatalog());
    expect(fs.readFileSync(REPORT_MD, 'utf8')).toBe(renderConformanceMarkdown(report));
    expect(JSON.parse(fs.readFileSync(REPORT_JSON, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('every rule has a conforming and a violating case, and every case passes', async () => {
    const report = await buildConformanceReport(loadCatalog());
    const missing = report.rules.filter((r) => !(r.cases.some((c) => c.verdict === 'violating') && r.cases.some((c) => c.verdict === 'conforming'))).map((r) => r.id);
    expect(missing).toEqual([]);
    const failing = report.rules.flatMap((r) => r.cases.filter((c) => !c.pass).map((c) => `${r.id}: ${c.file}: expected ${c.expected.join(' ')} got ${c.error ?? c.actual.join(' ')}`));
    expect(failing).toEqual([]);
  });
});
