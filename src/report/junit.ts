import type { CheckResult, FileResult, Finding, Severity } from '../findings/finding.js';
import { RuleIndex, atLeast, displayPath, exercisedRules, groupBy, plural, sortFindings, worstSeverity } from './common.js';
import { escapeXml, visible } from './escape.js';

/**
 * JUnit XML as Jenkins (junit / xunit plugins), Maven Surefire readers, GitLab and GitHub test reporters
 * consume it: `<testsuites>` with one `<testsuite>` per trace, one `<testcase>` per rule exercised on it
 * (classname = rule family, name = rule id). A rule with findings at or above `failOn` fails with one
 * `<failure>` carrying all of them (readers keep only the first failure element of a test case); findings
 * below the threshold go to the test case's `<system-out>`. Rules that could not be checked on the trace
 * are `<skipped>` with the reason. Validated in the tests against Jenkins' junit-10.xsd (whole document)
 * and Surefire's surefire-test-report-3.0.xsd (each suite).
 */

export interface JunitOptions {
  cwd?: string;
  /** Lowest severity that fails a test case (default 'error', like the CLI's --fail-on). */
  failOn?: Severity;
}

const attr = (s: string | number): string => escapeXml(String(s), true);
const text = (s: string): string => escapeXml(s);

function findingText(f: Finding, cwd?: string): string {
  const lines = [`${visible(displayPath(f.file, cwd))}:${f.line}: ${f.severity}: ${visible(f.message)} [${visible(f.rule)}]`];
  if (f.raw !== undefined) lines.push(`    ${visible(f.raw)}`);
  for (const r of f.related) {
    lines.push(`  ${visible(displayPath(r.file, cwd))}:${r.line}: ${r.note ? visible(r.note) : 'related'}`);
    if (r.raw !== undefined) lines.push(`    ${visible(r.raw)}`);
  }
  return lines.join('\n');
}

interface Case {
  xml: string;
  failed: boolean;
  skipped: boolean;
}

function testcase(ruleId: string, findings: Finding[], rules: RuleIndex, opts: JunitOptions): Case {
  const failOn = opts.failOn ?? 'error';
  const meta = rules.get(ruleId);
  const head = `<testcase classname="${attr(rules.family(ruleId))}" name="${attr(ruleId)}" time="0"`;
  if (findings.length === 0) return { xml: `${head}/>`, failed: false, skipped: false };

  const failing = findings.filter((f) => atLeast(f.severity, failOn));
  const below = findings.filter((f) => !atLeast(f.severity, failOn));
  const parts: string[] = [];
  if (failing.length > 0) {
    const worst = worstSeverity(failing) ?? 'error';
    const first = visible(failing[0]!.message);
    const message = failing.length === 1 ? first : `${plural(failing.length, 'finding')}; first: ${first}`;
    const body = failing.map((f) => findingText(f, opts.cwd));
    const about: string[] = [];
    if (meta?.title && meta.title !== ruleId) about.push(visible(meta.title));
    if (meta?.section) about.push(`Section: ${visible(meta.section)}`);
    if (meta?.explanation) about.push(visible(meta.explanation));
    if (meta?.fix) about.push(`Fix: ${visible(meta.fix)}`);
    if (about.length) body.push(about.join('\n'));
    parts.push(`<failure type="${attr(worst)}" message="${attr(message)}">${text(body.join('\n\n'))}</failure>`);
  }
  if (below.length > 0) parts.push(`<system-out>${text(below.map((f) => findingText(f, opts.cwd)).join('\n\n'))}</system-out>`);
  return { xml: `${head}>\n      ${parts.join('\n      ')}\n    </testcase>`, failed: failing.length > 0, skipped: false };
}

function testsuite(file: FileResult, result: CheckResult, rules: RuleIndex, opts: JunitOptions): { xml: string; tests: number; failures: number; skipped: number } {
  const byRule = groupBy(sortFindings(file.findings), (f) => f.rule);
  const cases: Case[] = exercisedRules(file).map((id) => testcase(id, byRule.get(id) ?? [], rules, opts));
  const exercised = new Set(exercisedRules(file));
  for (const n of file.notChecked) {
    if (exercised.has(n.rule)) continue;
    cases.push({
      xml: `<testcase classname="${attr(rules.family(n.rule))}" name="${attr(n.rule)}" time="0">\n      <skipped message="${attr(visible(n.reason))}"/>\n    </testcase>`,
      failed: false,
      skipped: true,
    });
  }
  const failures = cases.filter((c) => c.failed).length;
  const skipped = cases.filter((c) => c.skipped).length;
  const name = visible(displayPath(file.file, opts.cwd));
  const props: [string, string | number][] = [
    ['nvmeproof.version', result.tool.version],
    ['trace.format', visible(file.format)],
    ['trace.lines', file.lines],
    ['trace.events', file.events],
    ['trace.malformed', file.malformed],
  ];
  const lines = [
    `  <testsuite name="${attr(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="0">`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${attr(k)}" value="${attr(v)}"/>`),
    '    </properties>',
    ...cases.map((c) => `    ${c.xml}`),
    '  </testsuite>',
  ];
  return { xml: lines.join('\n'), tests: cases.length, failures, skipped };
}

export function renderJunit(result: CheckResult, opts: JunitOptions = {}): string {
  const rules = new RuleIndex(result.rules);
  const suites = result.files.map((f) => testsuite(f, result, rules, opts));
  const tests = suites.reduce((n, s) => n + s.tests, 0);
  const failures = suites.reduce((n, s) => n + s.failures, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="nvmeproof" tests="${tests}" failures="${failures}" errors="0" time="0">`,
    ...suites.map((s) => s.xml),
    '</testsuites>',
    '',
  ].join('\n');
}
