import path from 'node:path';
import type { CheckResult, FileResult, Finding, RuleMeta, Severity } from '../findings/finding.js';
import { SEVERITY_RANK } from '../findings/finding.js';

/** Helpers every report shares: ordering, counting, rule lookup, paths. */

export interface Counts {
  errors: number;
  warnings: number;
  infos: number;
}

export function countFindings(findings: readonly Finding[]): Counts {
  const c: Counts = { errors: 0, warnings: 0, infos: 0 };
  for (const f of findings) {
    if (f.severity === 'error') c.errors++;
    else if (f.severity === 'warning') c.warnings++;
    else c.infos++;
  }
  return c;
}

/** Findings of one file in reading order: by line, then the most severe first, then by rule id. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      a.line - b.line ||
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      (a.col ?? 0) - (b.col ?? 0) ||
      a.rule.localeCompare(b.rule),
  );
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `2 errors, 1 warning in 2 files (3520 lines)` (infos only when there are any). */
export function summaryLine(result: CheckResult): string {
  const s = result.summary;
  const parts = [plural(s.errors, 'error'), plural(s.warnings, 'warning')];
  if (s.infos > 0) parts.push(plural(s.infos, 'info'));
  return `${parts.join(', ')} in ${plural(s.files, 'file')} (${plural(s.lines, 'line')})`;
}

export class RuleIndex {
  private readonly byId = new Map<string, RuleMeta>();
  constructor(rules: readonly RuleMeta[]) {
    for (const r of rules) if (!this.byId.has(r.id)) this.byId.set(r.id, r);
  }
  get(id: string): RuleMeta | undefined {
    return this.byId.get(id);
  }
  family(id: string): string {
    return this.byId.get(id)?.family ?? familyOf(id);
  }
}

/** A rule's family from its id when the catalog does not say: `queue-sq-cq-exists` → `queue`. */
export function familyOf(ruleId: string): string {
  const i = ruleId.indexOf('-');
  return i > 0 ? ruleId.slice(0, i) : ruleId;
}

/**
 * Every rule a report talks about: the catalog's rules, then any rule id that occurs in findings,
 * `exercised` or `notChecked` without catalog metadata (a minimal descriptor, so nothing is dropped).
 */
export function allRules(result: CheckResult): RuleMeta[] {
  const out: RuleMeta[] = [];
  const seen = new Set<string>();
  for (const r of result.rules) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push(r);
  }
  const add = (id: string, severity: Severity): void => {
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ id, severity, family: familyOf(id), title: id, message: id, section: '', explanation: '' });
  };
  for (const file of result.files) {
    for (const f of file.findings) add(f.rule, f.severity);
    for (const id of file.exercised) add(id, 'error');
    for (const n of file.notChecked) add(n.rule, 'error');
  }
  return out;
}

/** Rule ids exercised on a file: the ones it lists, plus any that fired (a rule that fired was checked). */
export function exercisedRules(file: FileResult): string[] {
  const ids = new Set(file.exercised);
  for (const f of file.findings) ids.add(f.rule);
  return [...ids].sort();
}

/** Highest severity among findings, or undefined when none. */
export function worstSeverity(findings: readonly Finding[]): Severity | undefined {
  let worst: Severity | undefined;
  for (const f of findings) if (!worst || SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst]) worst = f.severity;
  return worst;
}

export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold];
}

/**
 * A trace path as reports show it: relative to `cwd` with forward slashes when the file lies inside it,
 * otherwise as given (standard input stays `-`).
 */
export function displayPath(file: string, cwd?: string): string {
  if (!cwd || file === '-' || !path.isAbsolute(file)) return file.split(path.sep).join('/');
  const rel = path.relative(cwd, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return file.split(path.sep).join('/');
  return rel.split(path.sep).join('/');
}

/** Sum of count maps (coverage across files). */
export function mergeCounts(maps: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Count map entries, most frequent first, then by name. */
export function sortedCounts(m: Record<string, number>): [string, number][] {
  return Object.entries(m).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Items grouped by a key, groups in first-seen order. */
export function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const xs = groups.get(k);
    if (xs) xs.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Rule groups ordered most errors first, then most warnings, then by rule id. */
export function mostSevereFirst<T>(groups: Map<string, T[]>, finding: (item: T) => Finding): [string, T[]][] {
  return [...groups.entries()].sort((a, b) => {
    const ca = countFindings(a[1].map(finding));
    const cb = countFindings(b[1].map(finding));
    return cb.errors - ca.errors || cb.warnings - ca.warnings || a[0].localeCompare(b[0]);
  });
}
