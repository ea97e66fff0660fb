import { createHash } from 'node:crypto';
import type { CheckResult, FileResult, Finding, ProofTable, Severity } from '../findings/finding.js';
import {
  RuleIndex,
  countFindings,
  displayPath,
  exercisedRules,
  groupBy,
  mostSevereFirst,
  plural,
  sortFindings,
  sortedCounts,
  summaryLine,
  worstSeverity,
} from './common.js';
import { escapeHtml, visible } from './escape.js';

/**
 * One self-contained HTML file a reviewer can open anywhere: summary, findings per rule, a timeline of
 * each trace (findings as marks; related lines linked by anchors), spec coverage, and the proof-line
 * verdict tables of serial logs. No network and no script: inline CSS allowed by hash in a strict
 * Content-Security-Policy, collapsibles are <details>, highlighting is CSS :target. Every piece of trace
 * text goes through `visible()` then `escapeHtml()`.
 */

export interface HtmlOptions {
  cwd?: string;
}

const CSS = `
:root{--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--err:#cf222e;--warn:#9a6700;--info:#0969da;--ok:#1a7f37;--code:#f6f8fa;--mark:#fff8c5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:20px 32px;border-bottom:1px solid var(--line);background:#f6f8fa}
header h1{margin:0 0 4px;font-size:22px}
main{padding:8px 32px 48px;max-width:1400px}
h2{margin:32px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line);font-size:18px}
h3{margin:20px 0 8px;font-size:15px}
.muted{color:var(--muted)}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:120px;background:#fff}
.card b{display:block;font-size:24px}
.card.error b{color:var(--err)}.card.warning b{color:var(--warn)}.card.ok b{color:var(--ok)}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,monospace;font-size:12.5px}
pre{margin:4px 0;padding:6px 10px;background:var(--code);border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere}
.sev{display:inline-block;min-width:64px;padding:0 6px;border-radius:10px;font-size:12px;font-weight:600;text-align:center;color:#fff}
.sev.error{background:var(--err)}.sev.warning{background:var(--warn)}.sev.info{background:var(--info)}
.finding{border-left:4px solid var(--line);padding:6px 12px;margin:10px 0;background:#fff}
.finding.error{border-color:var(--err)}.finding.warning{border-color:var(--warn)}.finding.info{border-color:var(--info)}
.finding:target,.moment:target{background:var(--mark)}
.related{margin:4px 0 0 0;padding-left:18px}
.timeline{width:100%;height:56px;display:block;margin:8px 0}
.moments{list-style:none;padding:0;margin:0}
.moment{display:grid;grid-template-columns:80px 1fr;gap:8px;padding:3px 6px;border-bottom:1px solid #eef1f4}
.moment .ln{color:var(--muted);text-align:right}
.tag{font-size:12px;margin-right:8px}
.tag.error{color:var(--err)}.tag.warning{color:var(--warn)}.tag.info{color:var(--info)}.tag.rel{color:var(--muted)}
.verdict{font-weight:600}
.verdict.ok{color:var(--ok)}.verdict.bad{color:var(--err)}.verdict.warn{color:var(--warn)}
details{margin:6px 0}
summary{cursor:pointer}
a{color:var(--info)}
.pills code{display:inline-block;margin:2px 6px 2px 0;padding:0 6px;border-radius:10px;background:#eef1f4}
.pills code.fail{background:#ffebe9;color:var(--err)}
.tables{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
`;

const h = (s: string): string => escapeHtml(visible(s));

function styleHash(css: string): string {
  return `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;
}

/** The CSP the page carries: nothing may load or run except the inline stylesheet (by hash) and data: images. */
export function contentSecurityPolicy(css = CSS): string {
  return [
    "default-src 'none'",
    `style-src ${styleHash(css)}`,
    'img-src data:',
    "script-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

const ids = {
  finding: (fi: number, n: number) => `f${fi}-${n}`,
  moment: (fi: number, line: number) => `t${fi}-L${line}`,
  rule: (ri: number) => `rule-${ri}`,
  file: (fi: number) => `trace-${fi}`,
};

interface Indexed {
  fi: number;
  n: number;
  f: Finding;
}

function sevBadge(sev: Severity): string {
  return `<span class="sev ${sev}">${sev}</span>`;
}

function cards(result: CheckResult): string {
  const s = result.summary;
  const card = (cls: string, n: number | string, label: string) => `<div class="card ${cls}"><b>${n}</b>${label}</div>`;
  return `<div class="cards">${[
    card(s.errors ? 'error' : 'ok', s.errors, 'errors'),
    card(s.warnings ? 'warning' : 'ok', s.warnings, 'warnings'),
    card('', s.infos, 'infos'),
    card('', s.files, s.files === 1 ? 'trace' : 'traces'),
    card('', s.lines, 'lines'),
  ].join('')}</div>`;
}

function fileTable(result: CheckResult, opts: HtmlOptions): string {
  const rows = result.files.map((file, fi) => {
    const c = countFindings(file.findings);
    return `<tr><td><a href="#${ids.file(fi)}" class="mono">${h(displayPath(file.file, opts.cwd))}</a></td><td>${h(file.format)}</td><td class="num">${file.lines}</td><td class="num">${file.events}</td><td class="num">${c.errors}</td><td class="num">${c.warnings}</td><td class="num">${c.infos}</td><td class="num">${exercisedRules(file).length}</td><td class="num">${file.malformed}</td></tr>`;
  });
  return `<table><thead><tr><th>Trace</th><th>Format</th><th>Lines</th><th>Events</th><th>Errors</th><th>Warnings</th><th>Infos</th><th>Rules exercised</th><th>Malformed</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function findingArticle(x: Indexed, result: CheckResult, opts: HtmlOptions): string {
  const { fi, n, f } = x;
  const file = result.files[fi]!;
  const same = (p: string) => p === file.file;
  const loc = `<a href="#${ids.moment(fi, f.line)}" class="mono">${h(displayPath(f.file, opts.cwd))}:${f.line}</a>`;
  const parts = [`<div>${sevBadge(f.severity)} ${loc} — ${h(f.message)}</div>`];
  if (f.raw !== undefined) parts.push(`<pre>${h(f.raw)}</pre>`);
  if (f.related.length) {
    const items = f.related.map((r) => {
      const where = `${h(displayPath(r.file, opts.cwd))}:${r.line}`;
      const a = same(r.file) ? `<a href="#${ids.moment(fi, r.line)}" class="mono">${where}</a>` : `<span class="mono">${where}</span>`;
      const note = r.note ? ` ${h(r.note)}` : '';
      const raw = r.raw !== undefined ? `<pre>${h(r.raw)}</pre>` : '';
      return `<li>${a}${note}${raw}</li>`;
    });
    parts.push(`<ul class="related">${items.join('')}</ul>`);
  }
  const extra: string[] = [];
  if (f.binding) extra.push(`about ${h(f.binding)}`);
  if (f.section) extra.push(h(f.section));
  if (f.source === 'device') extra.push('reported by the device');
  if (extra.length) parts.push(`<div class="muted">${extra.join(' · ')}</div>`);
  return `<article class="finding ${f.severity}" id="${ids.finding(fi, n)}">${parts.join('')}</article>`;
}

function rulesSection(result: CheckResult, indexed: Indexed[], opts: HtmlOptions): string {
  const rules = new RuleIndex(result.rules);
  const byRule = groupBy(indexed, (x) => x.f.rule);
  if (byRule.size === 0) return '<p>No findings: the traces conform to every rule exercised.</p>';
  const order = mostSevereFirst(byRule, (x) => x.f);
  return order
    .map(([id, xs], ri) => {
      const meta = rules.get(id);
      const worst = worstSeverity(xs.map((x) => x.f)) ?? 'info';
      const title = meta?.title && meta.title !== id ? ` — ${h(meta.title)}` : '';
      const about: string[] = [];
      if (meta?.section) about.push(`<div class="muted">${h(meta.section)}</div>`);
      if (meta?.explanation) about.push(`<p>${h(meta.explanation)}</p>`);
      if (meta?.fix) about.push(`<p><b>Fix:</b> ${h(meta.fix)}</p>`);
      return `<section id="${ids.rule(ri)}"><h3>${sevBadge(worst)} <code>${h(id)}</code>${title} <span class="muted">(${plural(xs.length, 'finding')})</span></h3>${about.join('')}${xs.map((x) => findingArticle(x, result, opts)).join('')}</section>`;
    })
    .join('');
}

/** Marks along the trace: one per finding (colour by severity) and a thin tick per related line; each a link. */
function timelineSvg(file: FileResult, fi: number, findings: Indexed[]): string {
  const W = 1000;
  const total = Math.max(1, file.lines, ...findings.map((x) => x.f.line), ...findings.flatMap((x) => x.f.related.map((r) => r.line)));
  const xOf = (line: number) => ((Math.min(Math.max(line, 1), total) - 1) / Math.max(1, total - 1)) * (W - 8) + 4;
  const color: Record<Severity, string> = { error: '#cf222e', warning: '#bf8700', info: '#0969da' };
  const marks: string[] = [];
  for (const x of findings) {
    for (const r of x.f.related) {
      if (r.file !== file.file) continue;
      marks.push(`<a href="#${ids.moment(fi, r.line)}"><title>line ${r.line}: ${h(r.note ?? 'related line')}</title><rect x="${xOf(r.line).toFixed(1)}" y="30" width="2" height="14" fill="#8c959f"/></a>`);
    }
  }
  for (const x of findings) {
    marks.push(`<a href="#${ids.finding(fi, x.n)}"><title>line ${x.f.line}: ${h(x.f.rule)} — ${h(x.f.message)}</title><rect x="${(xOf(x.f.line) - 3).toFixed(1)}" y="6" width="6" height="26" rx="2" fill="${color[x.f.severity]}"/></a>`);
  }
  const axis = `<rect x="4" y="31" width="${W - 8}" height="2" fill="#d1d9e0"/><text x="4" y="54" font-size="11" fill="#59636e">line 1</text><text x="${W - 4}" y="54" font-size="11" fill="#59636e" text-anchor="end">line ${total}</text>`;
  return `<svg class="timeline" viewBox="0 0 ${W} 56" preserveAspectRatio="none" role="img" aria-label="findings along the trace">${axis}${marks.join('')}</svg>`;
}

function timelineList(file: FileResult, fi: number, findings: Indexed[]): string {
  interface Moment {
    raw?: string;
    tags: string[];
  }
  const moments = new Map<number, Moment>();
  const at = (line: number): Moment => {
    let m = moments.get(line);
    if (!m) moments.set(line, (m = { tags: [] }));
    return m;
  };
  for (const x of findings) {
    const m = at(x.f.line);
    if (x.f.raw !== undefined) m.raw ??= x.f.raw;
    m.tags.push(`<a class="tag ${x.f.severity}" href="#${ids.finding(fi, x.n)}">${x.f.severity} ${h(x.f.rule)}</a>`);
    for (const r of x.f.related) {
      if (r.file !== file.file) continue;
      const rm = at(r.line);
      if (r.raw !== undefined) rm.raw ??= r.raw;
      rm.tags.push(`<a class="tag rel" href="#${ids.finding(fi, x.n)}">${h(r.note ?? 'related')} → ${h(x.f.rule)} at line ${x.f.line}</a>`);
    }
  }
  const items = [...moments.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([line, m]) => `<li class="moment" id="${ids.moment(fi, line)}"><span class="ln mono">${line}</span><div>${m.tags.join('')}${m.raw !== undefined ? `<pre>${h(m.raw)}</pre>` : ''}</div></li>`);
  return items.length ? `<ol class="moments">${items.join('')}</ol>` : '';
}

function countTable(title: string, m: Record<string, number>): string {
  const rows = sortedCounts(m);
  if (!rows.length) return '';
  return `<table><thead><tr><th>${title}</th><th>Count</th></tr></thead><tbody>${rows.map(([k, v]) => `<tr><td class="mono">${h(k)}</td><td class="num">${v}</td></tr>`).join('')}</tbody></table>`;
}

function verdictClass(v: string): string {
  const s = v.toLowerCase();
  if (/^(ok|pass|match|agrees?|documented|documentation|present|valid)/.test(s)) return 'ok';
  if (/^(missing|wrong|fail|mismatch|contradict|overclaim|invalid|reject|unsupported)/.test(s)) return 'bad';
  return 'warn';
}

function proofTable(t: ProofTable, fi: number): string {
  const rows = t.rows.map(
    (r) =>
      `<tr><td class="mono">${h(r.field)}</td><td class="mono">${r.value !== undefined ? h(r.value) : '<span class="muted">(absent)</span>'}</td><td class="verdict ${verdictClass(r.verdict)}">${h(r.verdict)}</td><td>${h(r.reason)}</td><td class="muted">${r.source !== undefined ? h(r.source) : ''}</td></tr>`,
  );
  return `<h4><code>${h(t.kind)}</code> proof line at <a href="#${ids.moment(fi, t.line)}" class="mono">line ${t.line}</a></h4><table><thead><tr><th>Field</th><th>Value</th><th>Verdict</th><th>Reason</th><th>Source</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function traceSection(file: FileResult, fi: number, findings: Indexed[], opts: HtmlOptions): string {
  const c = countFindings(file.findings);
  const parts: string[] = [];
  parts.push(`<h3 id="${ids.file(fi)}"><span class="mono">${h(displayPath(file.file, opts.cwd))}</span> <span class="muted">${h(file.format)}, ${plural(file.lines, 'line')}, ${plural(c.errors, 'error')}, ${plural(c.warnings, 'warning')}</span></h3>`);
  parts.push('<h4>Timeline</h4>', timelineSvg(file, fi, findings));
  const list = timelineList(file, fi, findings);
  if (list) parts.push(`<details open><summary>Lines involved (${findings.length ? 'findings and the lines they refer to' : 'none'})</summary>${list}</details>`);

  const proof = file.proofTables ?? [];
  if (proof.length) {
    parts.push('<h4>Proof lines</h4>', ...proof.map((t) => proofTable(t, fi)));
  }

  if (file.notes.length || file.malformed) {
    const notes = file.notes.map((n) => `<li>${h(n)}</li>`);
    if (file.malformed) notes.push(`<li>${plural(file.malformed, 'line')} could not be parsed</li>`);
    parts.push(`<h4>Notes</h4><ul>${notes.join('')}</ul>`);
  }
  return `<section>${parts.join('')}</section>`;
}

function coverageSection(file: FileResult, fi: number, opts: HtmlOptions): string {
  const exercised = exercisedRules(file);
  const fired = new Set(file.findings.map((f) => f.rule));
  const cov: string[] = [];
  cov.push(`<h3><a href="#${ids.file(fi)}" class="mono">${h(displayPath(file.file, opts.cwd))}</a></h3>`);
  cov.push(`<p class="pills">Rules exercised (${exercised.length}): ${exercised.map((id) => `<code class="${fired.has(id) ? 'fail' : 'pass'}">${h(id)}</code>`).join('')}</p>`);
  if (file.notChecked.length) cov.push(`<p>Not checked:</p><ul>${file.notChecked.map((n) => `<li><code>${h(n.rule)}</code>: ${h(n.reason)}</li>`).join('')}</ul>`);
  const tables = [countTable('Register', file.coverage.registers), countTable('Command', file.coverage.commands), countTable('Event', file.coverage.events), countTable('Unknown event', file.unknownEvents)].filter(Boolean);
  if (tables.length) cov.push(`<div class="tables">${tables.join('')}</div>`);
  return `<section>${cov.join('')}</section>`;
}

/** Proof-line anchors must exist even when no finding points at the line. */
function ensureProofMoments(file: FileResult, fi: number, html: string): string {
  const missing = (file.proofTables ?? []).filter((t) => !html.includes(`id="${ids.moment(fi, t.line)}"`));
  if (!missing.length) return html;
  const anchors = missing.map((t) => `<span id="${ids.moment(fi, t.line)}"></span>`).join('');
  return html.replace('<h4>Proof lines</h4>', `<h4>Proof lines</h4>${anchors}`);
}

export function renderHtml(result: CheckResult, opts: HtmlOptions = {}): string {
  const indexed: Indexed[] = [];
  const perFile: Indexed[][] = result.files.map((file, fi) => {
    const xs = sortFindings(file.findings).map((f, n) => ({ fi, n, f }));
    indexed.push(...xs);
    return xs;
  });
  const title = `nvmeproof: ${summaryLine(result)}`;
  const traces = result.files.map((file, fi) => ensureProofMoments(file, fi, traceSection(file, fi, perFile[fi]!, opts))).join('');
  const baseline = result.baseline
    ? `<p class="muted">${plural(result.baseline.accepted, 'finding')} accepted by the baseline${result.baseline.file ? ` (${h(result.baseline.file)})` : ''}${result.baseline.stale ? `; ${plural(result.baseline.stale, 'baseline entry', 'baseline entries')} no longer occur` : ''}.</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy())}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nvmeproof ${h(result.tool.version)}">
<title>${h(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>nvmeproof report</h1><div>${h(summaryLine(result))}</div><div class="muted">nvmeproof ${h(result.tool.version)}</div></header>
<main>
<h2>Summary</h2>
${cards(result)}
${baseline}
${fileTable(result, opts)}
<h2>Findings by rule</h2>
${rulesSection(result, indexed, opts)}
<h2>Traces</h2>
${traces}
<h2>Spec coverage</h2>
${result.files.map((file, fi) => coverageSection(file, fi, opts)).join('')}
</main>
</body>
</html>
`;
}
