import fs from 'node:fs';
import path from 'node:path';
import { loadSpecFile } from '../specs/load.js';
import { checkTrace } from '../check/run.js';
import type { Catalog } from '../rules/catalog.js';
import type { TraceFormat } from '../parse/record.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { UserError } from '../util/errors.js';

/**
 * RuleTester for traces: every conformance/<...>/cases.yaml lists trace files with the exact error and
 * warning findings (rule, line) each must produce. A conforming case expects none.
 */

export const CONFORMANCE_DIR = path.join(PACKAGE_ROOT, 'conformance');

interface CasesFile {
  rule?: string;
  description?: string;
  cases: {
    name: string;
    file: string;
    verdict: 'conforming' | 'violating';
    format?: TraceFormat;
    shape?: string;
    namespace?: string;
    expect: { rule: string; line: number; severity?: string }[];
  }[];
}

export interface CaseResult {
  casesFile: string;
  rule?: string;
  name: string;
  file: string;
  verdict: 'conforming' | 'violating';
  expected: string[];
  actual: string[];
  pass: boolean;
  error?: string;
}

export function listCaseFiles(dir = CONFORMANCE_DIR): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'cases.yaml') out.push(p);
    }
  };
  walk(dir);
  return out;
}

const key = (rule: string, line: number): string => `${rule}@${line}`;

export async function runCases(casesFile: string, catalog: Catalog): Promise<CaseResult[]> {
  const spec = loadSpecFile<CasesFile>(casesFile, 'conformance-cases').data;
  const dir = path.dirname(casesFile);
  const results: CaseResult[] = [];
  for (const c of spec.cases) {
    const expected = c.expect.map((e) => key(e.rule, e.line)).sort();
    const base = { casesFile: path.relative(PACKAGE_ROOT, casesFile), rule: spec.rule, name: c.name, file: path.relative(PACKAGE_ROOT, path.join(dir, c.file)), verdict: c.verdict, expected };
    try {
      const shape = c.shape && fs.existsSync(path.join(dir, c.shape)) ? path.join(dir, c.shape) : c.shape;
      const namespace = c.namespace ? path.join(dir, c.namespace) : undefined;
      const r = await checkTrace(path.join(dir, c.file), { format: c.format, shape, catalog, namespace });
      const actual = r.findings.filter((f) => f.severity !== 'info').map((f) => key(f.rule, f.line)).sort();
      const pass = JSON.stringify(actual) === JSON.stringify(expected) && (c.verdict === 'conforming') === (expected.length === 0);
      results.push({ ...base, actual, pass });
    } catch (err) {
      const msg = err instanceof UserError ? [err.message, ...err.details.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`)].join('; ') : String(err);
      results.push({ ...base, actual: [], pass: false, error: msg });
    }
  }
  return results;
}
