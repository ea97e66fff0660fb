import type { CheckResult, Finding, RuleMeta, Severity } from '../findings/finding.js';
import { RuleIndex, countFindings, displayPath, exercisedRules, groupBy, mostSevereFirst, plural, sortFindings, summaryLine, worstSeverity } from './common.js';
import { escapeHtml, escapeMarkdown, markdownCode, visible } from './escape.js';

/**
 * GitHub-flavoured Markdown for `$GITHUB_STEP_SUMMARY` or a pull-request comment: a table of traces ×
 * errors/warnings, then the findings grouped by rule with file:line links and the trace lines in
 * collapsible details. All trace text is escaped for Markdown and HTML. Output is capped below GitHub's
 * limits (PR comments take 65,536 characters; a step summary 1 MiB) and says what it left out.
 */

export interface MarkdownOptions {
  cwd?: string;
  /**
   * Prefix for file links, e.g. `https://github.com/OWNER/REPO/blob/SHA/` (see `githubBlobBase`).
   * Without it links are relative to the page (right for a comment on a file in the repo).
   */
  linkBase?: string;
  /** Character budget for the whole document (default 60,000). */
  maxChars?: number;
}

/** Link base for the workflow run's commit, from the standard GitHub Actions environment; undefined elsewhere. */
export function githubBlobBase(env: Record<string, string | undefined> = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_SHA: sha } = env;
  if (!server || !repo || !sha) return undefined;
  return `${server.replace(/\/$/, '')}/${repo}/blob/${sha}/`;
}

const ICON: Record<Severity, string> = { error: '❌', warning: '⚠️', info: 'ℹ️' };

function link(file: string, line: number, opts: MarkdownOptions): string {
  const shown = displayPath(file, opts.cwd);
  const label = escapeMarkdown(`${shown}:${line}`);
  if (file === '-' || /^[a-z][a-z0-9+.-]*:/i.test(shown) || shown.startsWith('/')) return label;
  const href = (opts.linkBase ?? '') + shown.split('/').map(encodeURIComponent).join('/') + `#L${line}`;
  // encodeURIComponent leaves ( ) ' ! * alone: encode the ones Markdown link syntax could trip on.
  return `[${label}](${href.replace(/[()'!*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)})`;
}

function detailsBlock(f: Finding, opts: MarkdownOptions): string[] {
  const rows: string[] = [];
  const w = Math.max(String(f.line).length, ...f.related.map((r) => String(r.line).length));
  if (f.raw !== undefined) rows.push(`${String(f.line).padStart(w)}  ${escapeHtml(visible(f.raw))}`);
  for (const r of f.related) {
    const where = r.file === f.file ? String(r.line).padStart(w) : `${displayPath(r.file, opts.cwd)}:${r.line}`;
    const what = [r.note, r.raw].filter((x): x is string => x !== undefined && x !== '').map(visible).join(': ');
    rows.push(`${escapeHtml(visible(where))}  ${escapeHtml(what)}`);
  }
  if (rows.length === 0) return [];
  // One physical line: an HTML block that starts with <pre> ends on the line with </pre>, so no trace line can
  // fall out of it into Markdown, whatever container (list item) it sits in. &#10; is the newline inside it.
  return ['  <details><summary>trace lines</summary>', '', `  <pre>${rows.join('&#10;')}</pre>`, '', '  </details>', ''];
}

function ruleHeading(id: string, meta: RuleMeta | undefined, findings: Finding[]): string {
  const sev = worstSeverity(findings) ?? 'info';
  const title = meta?.title && meta.title !== id ? ` — ${escapeMarkdown(meta.title)}` : '';
  return `#### ${ICON[sev]} ${markdownCode(id)}${title} (${findings.length})`;
}

export function renderMarkdown(result: CheckResult, opts: MarkdownOptions = {}): string {
  const budget = opts.maxChars ?? 60_000;
  const rules = new RuleIndex(result.rules);
  const s = result.summary;
  const head: string[] = [];
  const status = s.errors > 0 ? ICON.error : s.warnings > 0 ? ICON.warning : '✅';
  head.push(`## ${status} nvmeproof: ${escapeMarkdown(summaryLine(result))}`, '');
  if (result.baseline) {
    const b = result.baseline;
    head.push(`${plural(b.accepted, 'finding')} accepted by the baseline${b.stale ? `; ${plural(b.stale, 'baseline entry', 'baseline entries')} no longer occur` : ''}.`, '');
  }
  head.push('| Trace | Format | Lines | Errors | Warnings | Rules exercised |', '| --- | --- | ---: | ---: | ---: | ---: |');
  for (const file of result.files) {
    const c = countFindings(file.findings);
    head.push(
      `| ${markdownCode(displayPath(file.file, opts.cwd))} | ${escapeMarkdown(file.format)} | ${file.lines} | ${c.errors ? `**${c.errors}**` : '0'} | ${c.warnings} | ${exercisedRules(file).length} |`,
    );
  }
  head.push('');

  // Findings grouped by rule, most severe rules first.
  const byRule = groupBy(result.files.flatMap((file) => sortFindings(file.findings)), (f) => f.rule);
  const order = mostSevereFirst(byRule, (f) => f);

  const body: string[] = [];
  let used = head.join('\n').length;
  let omitted = 0;
  const tail = (n: number) => `_${plural(n, 'more finding')} not shown here: see the SARIF, JUnit or JSON report._`;
  if (order.length > 0) body.push('### Findings by rule', '');
  for (const [id, findings] of order) {
    const meta = rules.get(id);
    const section: string[] = [ruleHeading(id, meta, findings), ''];
    const about: string[] = [];
    if (meta?.section) about.push(`_${escapeMarkdown(meta.section)}_`);
    if (meta?.explanation) about.push(escapeMarkdown(meta.explanation));
    if (about.length) section.push(about.join(' — '), '');
    if (used + section.join('\n').length > budget) {
      omitted += findings.length;
      continue;
    }
    body.push(...section);
    used += section.join('\n').length;
    for (const f of findings) {
      const item = [`- **${f.severity}** ${link(f.file, f.line, opts)}: ${escapeMarkdown(f.message)}`, ...detailsBlock(f, opts)];
      const size = item.join('\n').length + 1;
      if (used + size > budget) {
        omitted++;
        continue;
      }
      body.push(...item);
      used += size;
    }
    body.push('');
  }
  if (omitted > 0) body.push(tail(omitted), '');
  if (order.length === 0) body.push('No findings: the traces conform to every rule exercised.', '');

  // Not checked, notes.
  const extra: string[] = [];
  const notChecked = result.files.flatMap((f) => f.notChecked.map((n) => ({ file: f.file, ...n })));
  if (notChecked.length) {
    extra.push(`<details><summary>${escapeHtml(plural(notChecked.length, 'rule'))} not checked</summary>`, '');
    for (const n of notChecked) extra.push(`- ${markdownCode(n.rule)} on ${markdownCode(displayPath(n.file, opts.cwd))}: ${escapeMarkdown(n.reason)}`);
    extra.push('', '</details>', '');
  }
  const notes = result.files.flatMap((f) => f.notes.map((n) => ({ file: f.file, n })));
  if (notes.length) {
    extra.push('<details><summary>Notes</summary>', '');
    for (const { file, n } of notes) extra.push(`- ${markdownCode(displayPath(file, opts.cwd))}: ${escapeMarkdown(n)}`);
    extra.push('', '</details>', '');
  }
  const extraText = extra.join('\n');
  const out = [...head, ...body, ...(used + extraText.length <= budget ? extra : [])];
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
