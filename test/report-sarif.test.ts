import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSarif } from '../src/report/sarif.js';
import { fingerprint } from '../src/report/fingerprint.js';
import { allFixtures, hostileResult, sampleResult } from './fixtures/report/results.js';
import { SCHEMAS, multitoolValidate, sarifMultitool, sarifValidator, tmpDir } from './fixtures/report/tools.js';

const CWD = '/work/checkout';

describe('SARIF report', () => {
  const validate = sarifValidator();

  it.each(Object.entries(allFixtures()))('validates against the official SARIF 2.1.0 schema (%s)', (_name, result) => {
    const sarif = JSON.parse(renderSarif(result, { cwd: CWD }));
    const ok = validate(sarif);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema check is not vacuous: a broken log fails it', () => {
    const sarif = JSON.parse(renderSarif(sampleResult(), { cwd: CWD }));
    sarif.runs[0].results[0].level = 'fatal';
    sarif.runs[0].tool.driver.rules[0].helpUri = '';
    expect(validate(sarif)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    expect(paths).toContain('/runs/0/results/0/level');
    expect(paths).toContain('/runs/0/tool/driver/rules/0/helpUri');
  });

  it('carries the driver, the rules and the results GitHub code scanning needs', () => {
    const result = sampleResult();
    const sarif = JSON.parse(renderSarif(result, { cwd: CWD }));
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/^https:\/\/.+sarif-2\.1\.0.*\.json$/);
    const run = sarif.runs[0];
    const driver = run.tool.driver;
    expect(driver.name).toBe('nvmeproof');
    expect(driver.version).toBe('0.1.0');
    expect(driver.informationUri).toMatch(/^https:\/\/\S+$/);

    // One rule descriptor per rule, each complete, and no empty helpUri anywhere.
    const ids = driver.rules.map((r: { id: string }) => r.id);
    for (const r of result.rules) expect(ids).toContain(r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of driver.rules) {
      expect(r.name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      expect(r.shortDescription.text.length).toBeGreaterThan(0);
      expect(r.fullDescription.text.length).toBeGreaterThan(0);
      expect(r.help.text.length).toBeGreaterThan(0);
      expect(r.help.markdown.length).toBeGreaterThan(0);
      expect(['error', 'warning', 'note']).toContain(r.defaultConfiguration.level);
      expect(Array.isArray(r.properties.tags)).toBe(true);
      expect(r.properties.tags.length).toBeGreaterThan(0);
      if ('helpUri' in r) expect(r.helpUri).toMatch(/^https?:\/\/\S+$/);
    }
    expect(renderSarif(result, { cwd: CWD })).not.toMatch(/"helpUri"\s*:\s*""/);

    // Results: rule id and index agree, location is the trace file relative to the working directory.
    const findings = result.files.flatMap((f) => f.findings);
    expect(run.results).toHaveLength(findings.length);
    for (const res of run.results) {
      expect(driver.rules[res.ruleIndex].id).toBe(res.ruleId);
      expect(['error', 'warning', 'note']).toContain(res.level);
      expect(res.message.text.length).toBeGreaterThan(0);
      const loc = res.locations[0].physicalLocation;
      expect(loc.artifactLocation.uriBaseId).toBe('SRCROOT');
      expect(loc.artifactLocation.uri).toMatch(/^traces\//);
      expect(loc.region.startLine).toBeGreaterThanOrEqual(1);
      expect(Object.keys(res.partialFingerprints)).toEqual(['nvmeproofFindingHash/v1']);
    }
    expect(run.originalUriBaseIds.SRCROOT.uri).toBe('file:///work/checkout/');

    const sq = run.results.find((r: { ruleId: string }) => r.ruleId === 'queue-sq-cq-exists');
    const f = findings.find((x) => x.rule === 'queue-sq-cq-exists')!;
    expect(sq.locations[0].physicalLocation.region).toMatchObject({ startLine: 2950, snippet: { text: expect.stringContaining('pci_nvme_create_sq') } });
    expect(sq.relatedLocations).toEqual([
      expect.objectContaining({
        id: 1,
        message: { text: 'only CQ 1 exists (created here)' },
        physicalLocation: expect.objectContaining({ region: expect.objectContaining({ startLine: 2941 }) }),
      }),
    ]);
    expect(sq.message.text).toContain('](1)');
    expect(sq.partialFingerprints['nvmeproofFindingHash/v1']).toBe(`${fingerprint(f)}:1`);
    expect(sq.level).toBe('error');
    const db = run.results.find((r: { ruleId: string }) => r.ruleId === 'queue-doorbell-in-range');
    expect(db.level).toBe('warning');
    const info = run.results.find((r: { ruleId: string }) => r.ruleId === 'shape-vendor-id-documented');
    expect(info.level).toBe('note');
  });

  it('uses an absolute file: URI for a trace outside the working directory', () => {
    const result = sampleResult();
    result.files[0]!.file = '/var/tmp/run 1/trace.log';
    for (const f of result.files[0]!.findings) f.file = '/var/tmp/run 1/trace.log';
    const sarif = JSON.parse(renderSarif(result, { cwd: CWD }));
    const uris = sarif.runs[0].artifacts.map((a: { location: { uri: string } }) => a.location.uri);
    expect(uris).toContain('file:///var/tmp/run%201/trace.log');
    expect(validate(sarif)).toBe(true);
  });

  it('keeps hostile trace text inert: controls and bidi escaped, brackets cannot form links', () => {
    const out = renderSarif(hostileResult(), { cwd: CWD });
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    const sarif = JSON.parse(out);
    const res = sarif.runs[0].results[0];
    expect(res.message.text).not.toMatch(/(?<!\\)\[[^\]]*(?<!\\)\]\((?!\d+\))/); // no unescaped [text](target) except ours
    expect(res.locations[0].physicalLocation.region.snippet.text).toContain('\\x1b[2J');
    expect(res.locations[0].physicalLocation.region.snippet.text).toContain('\\u202e');
  });

  describe.skipIf(sarifMultitool.skip)(`Microsoft SARIF Multitool validate ${sarifMultitool.reason}`, () => {
    it.each(['sample', 'hostile', 'clean'])('reports no errors and no warnings (%s, SARIF and GitHub rules)', (name) => {
      const dir = tmpDir('sarif');
      const file = path.join(dir, `${name}.sarif`);
      fs.writeFileSync(file, renderSarif(allFixtures()[name]!, { cwd: CWD }));
      const r = multitoolValidate(file);
      expect(r.diagnostics, r.output).toEqual([]);
      expect(r.status, r.output).toBe(0);
    }, 180_000);

    it('is not vacuous: a result without locations is a GitHub error', () => {
      const sarif = JSON.parse(renderSarif(sampleResult(), { cwd: CWD }));
      delete sarif.runs[0].results[0].locations;
      const file = path.join(tmpDir('sarif'), 'broken.sarif');
      fs.writeFileSync(file, JSON.stringify(sarif, null, 2));
      const r = multitoolValidate(file);
      expect(r.diagnostics.join('\n'), r.output).toMatch(/error GH\d+/);
    }, 180_000);
  });
});
