import type { CheckResult } from '../findings/finding.js';

/** Minimal text rendering until src/report/text.ts lands; escapes control characters from traces. */
function esc(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

export function renderText(r: CheckResult, _o: { color: boolean }): string {
  const out: string[] = [];
  for (const f of r.files) {
    out.push(`${f.file} (${f.format}, ${f.lines} lines, ${f.events} events)`);
    for (const x of f.findings) {
      out.push(`${f.file}:${x.line}${x.col ? ':' + x.col : ''}  ${x.severity}  ${x.rule}  ${esc(x.message)}`);
      if (x.raw !== undefined) out.push(`    > ${esc(x.raw)}`);
      for (const rel of x.related) out.push(`    ${rel.file}:${rel.line}  ${rel.note ?? ''}${rel.raw ? ': ' + esc(rel.raw) : ''}`);
    }
    for (const n of f.notes) out.push(`  note: ${esc(n)}`);
    out.push(`  rules exercised: ${f.exercised.length ? f.exercised.join(', ') : 'none'}`);
  }
  const s = r.summary;
  out.push(`${s.errors} error(s), ${s.warnings} warning(s) in ${s.files} file(s) (${s.lines} lines)`);
  return out.join('\n') + '\n';
}
