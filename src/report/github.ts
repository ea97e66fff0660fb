import type { CheckResult, Finding, Severity } from '../findings/finding.js';
import { displayPath, sortFindings, summaryLine } from './common.js';
import { visible } from './escape.js';

/**
 * GitHub Actions workflow commands: one `::error file=…,line=…,title=…::message` annotation per finding
 * (warning → `::warning`, info → `::notice`), then a `::notice` with the summary. Property values escape
 * `%`, CR, LF, `:` and `,`; the message escapes `%`, CR and LF (GitHub's own toolkit rules). Trace text
 * goes through `visible()` first, so a trace line can neither end the command nor start another one.
 */

export interface GithubOptions {
  cwd?: string;
}

const COMMAND: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'notice' };

export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function annotation(f: Finding, cwd?: string): string {
  const props = [`file=${escapeProperty(visible(displayPath(f.file, cwd)))}`, `line=${f.line}`];
  if (f.col !== undefined) props.push(`col=${f.col}`);
  props.push(`title=${escapeProperty(visible(`${f.rule} (${f.severity})`))}`);
  const body = [visible(f.message)];
  if (f.raw !== undefined) body.push(`  ${visible(f.raw)}`);
  for (const r of f.related) {
    const what = [r.note, r.raw].filter((x): x is string => x !== undefined && x !== '').map(visible).join(': ');
    body.push(`  ${visible(displayPath(r.file, cwd))}:${r.line}  ${what}`);
  }
  return `::${COMMAND[f.severity]} ${props.join(',')}::${escapeData(body.join('\n'))}`;
}

export function renderGithub(result: CheckResult, opts: GithubOptions = {}): string {
  const lines: string[] = [];
  for (const file of result.files) for (const f of sortFindings(file.findings)) lines.push(annotation(f, opts.cwd));
  lines.push(`::notice title=nvmeproof::${escapeData(summaryLine(result))}`);
  return `${lines.join('\n')}\n`;
}
