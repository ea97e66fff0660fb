import type { CheckResult, FileResult, Finding, RuleMeta } from '../findings/finding.js';
import { countFindings, sortFindings } from './common.js';
import { safeJson } from './escape.js';
import { fingerprintAll } from './fingerprint.js';

/** JSON report, described by specs/schema/report.schema.json. */

export const REPORT_SCHEMA_VERSION = '1.0.0';

export interface JsonReport {
  schemaVersion: string;
  tool: { name: 'nvmeproof'; version: string };
  summary: {
    files: number;
    lines: number;
    errors: number;
    warnings: number;
    infos: number;
    findings: number;
    baseline?: { file?: string; accepted: number; stale: number };
  };
  files: Record<string, unknown>[];
  rules: Record<string, unknown>[];
}

/** Copies only the fields the schema knows, in a stable order, dropping undefined. */
function pick<T extends object>(obj: T, keys: readonly (keyof T)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k as string] = obj[k];
  return out;
}

function findingJson(f: Finding, fingerprint: string, occurrence: number): Record<string, unknown> {
  return {
    ...pick(f, ['rule', 'severity', 'message', 'file', 'line', 'col', 'raw']),
    related: f.related.map((r) => pick(r, ['file', 'line', 'note', 'raw'])),
    ...pick(f, ['binding', 'section', 'source']),
    fingerprint,
    occurrence,
  };
}

function fileJson(file: FileResult): Record<string, unknown> {
  const findings = fingerprintAll(sortFindings(file.findings)).map((x) => findingJson(x.finding, x.fingerprint, x.occurrence));
  const out: Record<string, unknown> = {
    file: file.file,
    format: file.format,
    lines: file.lines,
    events: file.events,
    malformed: file.malformed,
    unknownEvents: { ...file.unknownEvents },
    counts: countFindings(file.findings),
    findings,
    exercised: [...file.exercised],
    notChecked: file.notChecked.map((n) => ({ rule: n.rule, reason: n.reason })),
    coverage: {
      registers: { ...file.coverage.registers },
      commands: { ...file.coverage.commands },
      events: { ...file.coverage.events },
    },
    notes: [...file.notes],
  };
  if (file.proofTables) {
    out.proofTables = file.proofTables.map((t) => ({
      kind: t.kind,
      line: t.line,
      rows: t.rows.map((r) => pick(r, ['field', 'value', 'verdict', 'reason', 'source'])),
    }));
  }
  return out;
}

function ruleJson(r: RuleMeta): Record<string, unknown> {
  return pick(r, ['id', 'severity', 'family', 'title', 'message', 'section', 'explanation', 'fix', 'formats']);
}

export function toJsonReport(result: CheckResult): JsonReport {
  const s = result.summary;
  const findings = result.files.reduce((n, f) => n + f.findings.length, 0);
  const summary: JsonReport['summary'] = {
    files: s.files,
    lines: s.lines,
    errors: s.errors,
    warnings: s.warnings,
    infos: s.infos,
    findings,
  };
  if (result.baseline) summary.baseline = pick(result.baseline, ['file', 'accepted', 'stale']) as JsonReport['summary']['baseline'];
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: result.tool.name, version: result.tool.version },
    summary,
    files: result.files.map(fileJson),
    rules: result.rules.map(ruleJson),
  };
}

export function renderJson(result: CheckResult): string {
  return `${safeJson(toJsonReport(result))}\n`;
}
