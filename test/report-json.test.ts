import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { renderJson, REPORT_SCHEMA_VERSION } from '../src/report/json.js';
import { renderReport, REPORT_FORMATS, exitCodeFor } from '../src/report/index.js';
import { fingerprint } from '../src/report/fingerprint.js';
import { allFixtures, hostileResult, sampleResult } from './fixtures/report/results.js';
import { ROOT } from './fixtures/report/tools.js';

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'schema', 'report.schema.json'), 'utf8')) as object;

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  return ajv.compile(schema);
}

describe('JSON report', () => {
  const validate = validator();

  it.each(Object.entries(allFixtures()))('validates against specs/schema/report.schema.json (%s)', (_name, result) => {
    const doc = JSON.parse(renderJson(result));
    const ok = validate(doc);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('is versioned and carries every finding with rule, severity, location, related lines and fingerprint', () => {
    const result = sampleResult();
    const doc = JSON.parse(renderJson(result));
    expect(doc.schemaVersion).toBe(REPORT_SCHEMA_VERSION);
    expect(doc.schemaVersion).toBe('1.0.0');
    expect(doc.tool).toEqual({ name: 'nvmeproof', version: '0.1.0' });
    expect(doc.summary).toEqual({ files: 3, lines: 3323 + 120 + 3355, errors: 4, warnings: 1, infos: 1, findings: 6 });
    expect(doc.rules.map((r: { id: string }) => r.id)).toEqual(result.rules.map((r) => r.id));
    const boot = doc.files[0];
    expect(boot.counts).toEqual({ errors: 3, warnings: 1, infos: 0 });
    const sq = boot.findings.find((f: { rule: string }) => f.rule === 'queue-sq-cq-exists');
    const src = result.files[0]!.findings.find((f) => f.rule === 'queue-sq-cq-exists')!;
    expect(sq).toMatchObject({
      rule: 'queue-sq-cq-exists',
      severity: 'error',
      message: src.message,
      file: 'traces/linux-boot.log',
      line: 2950,
      raw: src.raw,
      binding: 'sqid=1 cqid=2',
      fingerprint: fingerprint(src),
      occurrence: 1,
    });
    expect(sq.related).toEqual([{ file: 'traces/linux-boot.log', line: 2941, note: 'only CQ 1 exists (created here)', raw: src.related[0]!.raw }]);
    expect(doc.files[1].proofTables[0].rows).toHaveLength(5);
    expect(boot.notChecked[0].rule).toBe('dma-manager-authored');
  });

  it('the schema check is not vacuous', () => {
    const doc = JSON.parse(renderJson(sampleResult()));
    doc.files[0].findings[0].line = 0;
    delete doc.files[0].findings[1].fingerprint;
    doc.schemaVersion = '2.0.0';
    expect(validate(doc)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    expect(paths).toEqual(expect.arrayContaining(['/schemaVersion', '/files/0/findings/0/line', '/files/0/findings/1']));
  });

  it('keeps trace text verbatim but never writes controls, C1 or bidi characters raw', () => {
    const result = hostileResult();
    const out = renderJson(result);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
    const doc = JSON.parse(out);
    expect(doc.files[0].findings[0].raw).toBe(result.files[0]!.findings[0]!.raw); // same value after parsing
    expect(doc.files[0].file).toBe(result.files[0]!.file);
  });

  it('renderReport dispatches every format and exit codes follow --fail-on', () => {
    const result = sampleResult();
    for (const format of REPORT_FORMATS) expect(renderReport(format, result, { cwd: '/work/checkout' }).length).toBeGreaterThan(0);
    expect(JSON.parse(renderReport('json', result))).toEqual(JSON.parse(renderJson(result)));
    expect(exitCodeFor(result)).toBe(1);
    expect(exitCodeFor(allFixtures().clean!)).toBe(0);
    const warningsOnly = sampleResult();
    for (const f of warningsOnly.files) f.findings = f.findings.filter((x) => x.severity !== 'error');
    expect(exitCodeFor(warningsOnly, 'error')).toBe(0);
    expect(exitCodeFor(warningsOnly, 'warning')).toBe(1);
    expect(exitCodeFor(warningsOnly, 'info')).toBe(1);
  });
});
