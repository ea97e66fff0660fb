import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderJunit } from '../src/report/junit.js';
import { allFixtures, hostileResult, sampleResult } from './fixtures/report/results.js';
import { SCHEMAS, tmpDir, validateXml, xmllint } from './fixtures/report/tools.js';

const JENKINS_XSD = path.join(SCHEMAS, 'junit-10.xsd');
const SUREFIRE_XSD = path.join(SCHEMAS, 'surefire-test-report-3.0.xsd');
const CWD = '/work/checkout';

/** Each `<testsuite>` of the document as a stand-alone Surefire report (Surefire's schema has no <testsuites>). */
function suites(xml: string): string[] {
  return [...xml.matchAll(/^ {2}<testsuite [\s\S]*?^ {2}<\/testsuite>$/gm)].map((m) => `<?xml version="1.0" encoding="UTF-8"?>\n${m[0]}\n`);
}

describe('JUnit report', () => {
  it('has one testsuite per trace and one testcase per rule exercised (classname = family, name = rule id)', () => {
    const result = sampleResult();
    const xml = renderJunit(result, { cwd: CWD });
    const ss = suites(xml);
    expect(ss).toHaveLength(result.files.length);
    expect(ss[0]).toContain('<testsuite name="traces/linux-boot.log" tests="9" failures="3" errors="0" skipped="1"');
    expect(xml).toContain('<testcase classname="queue" name="queue-sq-cq-exists" time="0">');
    expect(xml).toContain('<testcase classname="lifecycle" name="lifecycle-acq-aligned" time="0"/>');
    // The failure carries the message, file:line and the raw line, and the related line.
    const fail = xml.match(/<testcase classname="queue" name="queue-sq-cq-exists"[\s\S]*?<\/testcase>/)![0];
    expect(fail).toContain('<failure type="error" message="I/O SQ 1 binds to CQ 2, which does not exist">');
    expect(fail).toContain('traces/linux-boot.log:2950: error: I/O SQ 1 binds to CQ 2, which does not exist');
    expect(fail).toContain('pci_nvme_create_sq create submission queue, addr=0x2930000, sqid=1, cqid=2');
    expect(fail).toContain('traces/linux-boot.log:2941: only CQ 1 exists (created here)');
    // Warnings do not fail a test case under the default --fail-on error; they are in system-out.
    const warn = xml.match(/<testcase classname="queue" name="queue-doorbell-in-range"[\s\S]*?<\/testcase>/)![0];
    expect(warn).not.toContain('<failure');
    expect(warn).toContain('<system-out>traces/linux-boot.log:3100: warning:');
    expect(renderJunit(result, { cwd: CWD, failOn: 'warning' })).toMatch(/name="queue-doorbell-in-range" time="0">\s*<failure type="warning"/);
    // Rules that could not be checked are skipped, with the reason.
    expect(xml).toMatch(/name="dma-manager-authored" time="0">\s*<skipped message="the trace carries no authors/);
    expect(xml).toMatch(/^<testsuites name="nvmeproof" tests="17" failures="4" errors="0"/m);
  });

  it('escapes everything and strips what XML 1.0 forbids', () => {
    const xml = renderJunit(hostileResult(), { cwd: CWD });
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]/);
    expect(xml).not.toMatch(/[\ud800-\udfff]/);
    expect(xml).not.toContain('<script>');
    expect(xml).not.toContain('<img');
    expect(xml).not.toContain(']]>');
    expect(xml).toContain('&lt;script&gt;');
    expect(xml).toContain('\\x1b[2J'); // shown, not executed
    expect(xml).toContain('\\u202e');
    // Exactly the elements we wrote: the hostile <failure .../> stays text.
    expect(xml.match(/<failure /g)).toHaveLength(1);
  });

  describe.skipIf(xmllint.skip)(`xmllint --schema ${xmllint.reason}`, () => {
    it.each(Object.keys(allFixtures()))('validates against Jenkins junit-10.xsd and, per suite, Surefire 3.0 (%s)', (name) => {
      const dir = tmpDir('junit');
      const file = path.join(dir, `${name}.xml`);
      const xml = renderJunit(allFixtures()[name]!, { cwd: CWD });
      fs.writeFileSync(file, xml);
      const jenkins = validateXml(JENKINS_XSD, file);
      expect(jenkins.ok, jenkins.output).toBe(true);
      suites(xml).forEach((suite, i) => {
        const f = path.join(dir, `${name}-suite${i}.xml`);
        fs.writeFileSync(f, suite);
        const surefire = validateXml(SUREFIRE_XSD, f);
        expect(surefire.ok, surefire.output).toBe(true);
      });
    });

    it('the validation is not vacuous: a test case without a name fails it', () => {
      const dir = tmpDir('junit');
      const file = path.join(dir, 'bad.xml');
      fs.writeFileSync(file, renderJunit(sampleResult(), { cwd: CWD }).replace('name="queue-sq-cq-exists" ', ''));
      expect(validateXml(JENKINS_XSD, file).ok).toBe(false);
    });
  });
});
