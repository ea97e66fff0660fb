import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { cli, EXAMPLES, ROOT, tmpdir } from './helpers.js';
import { multitoolValidate, sarifMultitool, sarifValidator, SCHEMAS, validateXml, xmllint } from './fixtures/report/tools.js';

/** Every format from one real run: they agree on the findings, and the machine formats validate. */
describe('reports of a real run', () => {
  const dir = tmpdir();
  const traces = [path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log'), path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt'), path.join(EXAMPLES, 'linux-boot-smp1.log')];
  const out = (ext: string): string => path.join(dir, `run.${ext}`);
  const args = ['check', ...traces];
  for (const f of ['json', 'sarif', 'junit', 'markdown', 'github', 'html', 'text']) args.push('--format', f, '--output', out(f));
  const r = cli(args);
  const json = JSON.parse(fs.readFileSync(out('json'), 'utf8')) as { files: { file: string; findings: { rule: string; line: number }[] }[] };
  const expected = json.files.flatMap((f) => f.findings.map((x) => `${path.basename(f.file)}:${x.line}:${x.rule}`)).sort();

  it('exit code 1 (errors found) and nothing on stdout when every format has an --output', () => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(expected).toHaveLength(8);
  });

  it('JSON validates against specs/schema/report.schema.json', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'schema', 'report.schema.json'), 'utf8')) as object);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
  });

  it('SARIF holds the same findings and validates against the official SARIF 2.1.0 schema', () => {
    const sarif = JSON.parse(fs.readFileSync(out('sarif'), 'utf8')) as {
      runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[];
    };
    const validate = sarifValidator();
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    const got = sarif.runs[0]!.results.map((x) => `${path.basename(x.locations[0]!.physicalLocation.artifactLocation.uri)}:${x.locations[0]!.physicalLocation.region.startLine}:${x.ruleId}`).sort();
    expect(got).toEqual(expected);
  });

  it.skipIf(sarifMultitool.skip)(`SARIF passes Microsoft's SARIF Multitool with no errors or warnings ${sarifMultitool.reason}`, () => {
    const v = multitoolValidate(out('sarif'));
    expect(v.diagnostics, v.output).toEqual([]);
  });

  it('GitHub annotations: one per finding', () => {
    const lines = fs.readFileSync(out('github'), 'utf8').split('\n').filter((l) => /^::(error|warning|notice) file=/.test(l));
    const got = lines.map((l) => {
      const file = /file=([^,]+)/.exec(l)![1]!;
      const line = /line=(\d+)/.exec(l)![1]!;
      const rule = /title=([^,:]+)/.exec(l)![1]!;
      return `${path.basename(file)}:${line}:${rule.split(' ')[0]}`;
    });
    expect(got.sort()).toEqual(expected);
  });

  it.skipIf(xmllint.skip)(`JUnit validates against the Jenkins JUnit XSD and carries every finding ${xmllint.reason}`, () => {
    const v = validateXml(path.join(SCHEMAS, 'junit-10.xsd'), out('junit'));
    expect(v.ok, v.output).toBe(true);
    const xml = fs.readFileSync(out('junit'), 'utf8');
    expect((xml.match(/<testsuite /g) ?? []).length).toBe(3);
    for (const e of expected) {
      const [file, line] = e.split(':');
      expect(xml).toContain(`${file}:${line}`);
    }
  });

  it('Markdown, HTML and text mention every finding', () => {
    for (const ext of ['markdown', 'html', 'text']) {
      const text = fs.readFileSync(out(ext), 'utf8');
      for (const e of expected) expect(text, `${ext}: ${e}`).toContain(e.split(':')[2]!);
    }
  });
});
