import type { Finding } from '../findings/finding.js';
import type { ProofTable } from './check.js';
import { isErrorVerdict } from './check.js';

/** A reviewer's view of proof lines: one table per line, every key with its verdict, reason and source. */

const MARK: Record<string, string> = { ok: 'ok', missing: 'MISSING', wrong: 'WRONG', 'over-claims': 'OVER-CLAIMS', 'unknown-key': 'unknown-key' };

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export function tableSummary(t: ProofTable): string {
  const bad = t.rows.filter((r) => isErrorVerdict(r.verdict)).length;
  const warn = t.rows.filter((r) => r.verdict === 'unknown-key').length;
  if (!bad && !warn) return 'conforming';
  return [bad ? `${bad} error verdict(s)` : '', warn ? `${warn} unknown key(s)` : ''].filter(Boolean).join(', ');
}

export function renderTablesText(tables: ProofTable[], opts: { file?: string; showLine?: boolean } = {}): string {
  const out: string[] = [];
  for (const t of tables) {
    const where = opts.showLine === false ? '' : `${opts.file ? `${opts.file}:` : 'line '}${t.line}: `;
    out.push(`${where}${t.prefix}${t.shape ? ` (shape ${t.shape})` : ''}: ${tableSummary(t)}`);
    const fw = Math.min(34, Math.max(5, ...t.rows.map((r) => r.field.length)));
    const vw = Math.min(48, Math.max(5, ...t.rows.map((r) => (r.value ?? '-').length)));
    const dw = Math.max(7, ...t.rows.map((r) => MARK[r.verdict]!.length));
    out.push(`  ${'FIELD'.padEnd(fw)}  ${'VALUE'.padEnd(vw)}  ${'VERDICT'.padEnd(dw)}  REASON [SOURCE]`);
    for (const r of t.rows) {
      const value = clip(r.value ?? '-', vw);
      out.push(`  ${clip(r.field, fw).padEnd(fw)}  ${value.padEnd(vw)}  ${MARK[r.verdict]!.padEnd(dw)}  ${r.reason} [${r.source}]`);
    }
    out.push('');
  }
  return out.join('\n');
}

function md(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function renderTablesMarkdown(tables: ProofTable[], opts: { file?: string } = {}): string {
  const out: string[] = [];
  for (const t of tables) {
    out.push(`### ${opts.file ? `${md(opts.file)}:` : 'line '}${t.line}: \`${t.prefix}\`${t.shape ? ` (shape \`${t.shape}\`)` : ''} — ${tableSummary(t)}`);
    out.push('');
    out.push('| field | value | verdict | reason | source |');
    out.push('|---|---|---|---|---|');
    for (const r of t.rows) {
      const v = r.verdict === 'ok' ? 'ok' : `**${MARK[r.verdict]}**`;
      out.push(`| \`${md(r.field)}\` | ${r.value === undefined ? '—' : `\`${md(r.value)}\``} | ${v} | ${md(r.reason)} | ${md(r.source)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export function renderFindingsText(findings: Finding[]): string {
  return findings
    .map((f) => {
      const rel = f.related.map((r) => `\n    related: ${r.file}:${r.line}${r.note ? ` (${r.note})` : ''}`).join('');
      return `${f.file}:${f.line}:${f.col ?? 1}: ${f.severity} ${f.rule}: ${f.message}${f.section ? `\n    section: ${f.section}` : ''}${rel}`;
    })
    .join('\n');
}
