import type { CheckResult, FileResult, Finding, Severity } from '../findings/finding.js';
import {
  RuleIndex,
  countFindings,
  displayPath,
  exercisedRules,
  mergeCounts,
  plural,
  sortFindings,
  sortedCounts,
  summaryLine,
} from './common.js';
import { visible } from './escape.js';

/**
 * The default, human format: findings grouped by file (`line  severity  rule-id  message`), each with its
 * offending line and related lines; then what the rules that fired are about, the rules
 * exercised, the spec coverage and the notes. Every piece of trace text goes through `visible()`: a
 * guest's serial console output must never drive the reviewer's terminal. Colour only when asked.
 */

export interface TextOptions {
  color?: boolean;
  cwd?: string;
  /** The findings were already printed as they were found (live use): list only the files and the summary parts. */
  findingsStreamed?: boolean;
}

/** Colour on a terminal, never when NO_COLOR is set (https://no-color.org: present and not empty) or TERM=dumb. */
export function shouldColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

interface Style {
  bold(s: string): string;
  dim(s: string): string;
  sev(sev: Severity, s: string): string;
  ok(s: string): string;
  bad(s: string): string;
}

const SGR = (open: string, close: string) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
const COLOR: Style = {
  bold: SGR('1', '22'),
  dim: SGR('2', '22'),
  sev: (sev, s) => (sev === 'error' ? SGR('1;31', '0')(s) : sev === 'warning' ? SGR('33', '39')(s) : SGR('36', '39')(s)),
  ok: SGR('32', '39'),
  bad: SGR('31', '39'),
};
const PLAIN: Style = { bold: (s) => s, dim: (s) => s, sev: (_sev, s) => s, ok: (s) => s, bad: (s) => s };

const INDENT = '    ';

function wrap(text: string, width: number, indent: string): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(indent + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(indent + cur);
  return lines;
}

/** Items joined by two spaces, wrapped at `width`, never splitting an item; continuation lines indented. */
function wrapItems(prefix: string, items: string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let cur = prefix;
  for (const item of items) {
    if (cur.length > indent.length && cur !== prefix && cur.length + 2 + item.length > width) {
      lines.push(cur);
      cur = indent + item;
    } else cur = cur === prefix ? `${cur}${item}` : `${cur}  ${item}`;
  }
  lines.push(cur);
  return lines;
}

function findingLines(f: Finding, st: Style, lineWidth: number, ruleWidth: number, cwd?: string): string[] {
  const out: string[] = [];
  const lineNo = (f.col !== undefined ? `${f.line}:${f.col}` : String(f.line)).padStart(lineWidth);
  const sev = st.sev(f.severity, f.severity.padEnd(7));
  out.push(`  ${lineNo}  ${sev}  ${st.dim(visible(f.rule).padEnd(ruleWidth))}  ${visible(f.message)}`);
  const pad = ' '.repeat(lineWidth + 4);
  if (f.raw !== undefined) out.push(`${pad}${st.dim('>')} ${visible(f.raw)}`);
  for (const r of f.related) {
    const loc = `${visible(displayPath(r.file, cwd))}:${r.line}`;
    const what = [r.note, r.raw].filter((x): x is string => x !== undefined && x !== '').map(visible).join(': ');
    out.push(`${pad}${st.dim(loc)}  ${what}`);
  }
  return out;
}

function fileHeader(file: FileResult, st: Style, cwd?: string): string {
  const c = countFindings(file.findings);
  const bits = [visible(file.format), plural(file.lines, 'line')];
  if (c.errors) bits.push(plural(c.errors, 'error'));
  if (c.warnings) bits.push(plural(c.warnings, 'warning'));
  if (c.infos) bits.push(plural(c.infos, 'info'));
  if (!c.errors && !c.warnings && !c.infos) bits.push('conforming');
  return `${st.bold(visible(displayPath(file.file, cwd)))}  ${st.dim(`(${bits.join(', ')})`)}`;
}

/** One finding as it is found, for live use: `file:line  severity  rule  message`, its line and related lines. */
export function renderFindingLive(f: Finding, opts: TextOptions = {}): string {
  const st = opts.color ? COLOR : PLAIN;
  const lines = findingLines(f, st, 1, 0, opts.cwd);
  lines[0] = `${st.bold(visible(displayPath(f.file, opts.cwd)))}:${lines[0]!.trimStart()}`;
  return lines.join('\n') + '\n';
}

export function renderText(result: CheckResult, opts: TextOptions = {}): string {
  const st = opts.color ? COLOR : PLAIN;
  const rules = new RuleIndex(result.rules);
  const out: string[] = [];

  for (const file of result.files) {
    out.push(fileHeader(file, st, opts.cwd));
    const findings = sortFindings(file.findings);
    const width = Math.max(1, ...findings.map((f) => (f.col !== undefined ? `${f.line}:${f.col}` : String(f.line)).length));
    const ruleWidth = Math.max(0, ...findings.map((f) => visible(f.rule).length));
    if (!opts.findingsStreamed) for (const f of findings) out.push(...findingLines(f, st, width, ruleWidth, opts.cwd));
    if (file.malformed > 0) out.push(`  ${st.dim(`${plural(file.malformed, 'line')} could not be parsed`)}`);
    out.push('');
  }

  // What the rules that fired are about.
  const fired = new Map<string, number>();
  for (const file of result.files) for (const f of file.findings) fired.set(f.rule, (fired.get(f.rule) ?? 0) + 1);
  if (fired.size > 0) {
    out.push(st.bold('Rules that fired'));
    for (const id of [...fired.keys()].sort()) {
      const r = rules.get(id);
      const head = [visible(id)];
      if (r?.title && r.title !== id) head.push(`— ${visible(r.title)}`);
      if (r?.section) head.push(st.dim(`(${visible(r.section)})`));
      out.push(`  ${head.join(' ')}`);
      if (r?.explanation) out.push(...wrap(visible(r.explanation), 96, INDENT));
      if (r?.fix) out.push(...wrap(`Fix: ${visible(r.fix)}`, 96, INDENT));
    }
    out.push('');
  }

  // Rules exercised, across files.
  const exercised = new Set<string>();
  for (const file of result.files) for (const id of exercisedRules(file)) exercised.add(id);
  if (exercised.size > 0) {
    const ids = [...exercised].sort();
    const failing = ids.filter((id) => fired.has(id));
    out.push('');
    out.push(st.bold(`Rules exercised: ${ids.length}${failing.length ? ` (${failing.length} with findings)` : ''}`));
    const w = Math.max(...ids.map((id) => id.length));
    for (const id of ids) {
      const n = fired.get(id);
      const mark = n ? st.bad('fail') : st.ok('pass');
      out.push(`  ${mark}  ${visible(id.padEnd(w))}${n ? `  ${plural(n, 'finding')}` : ''}`);
    }
  }
  const notChecked = result.files.flatMap((file) => file.notChecked.map((n) => ({ file, ...n })));
  if (notChecked.length > 0) {
    out.push('');
    out.push(st.bold(`Not checked: ${notChecked.length}`));
    for (const n of notChecked) {
      const where = result.files.length > 1 ? `${visible(displayPath(n.file.file, opts.cwd))}: ` : '';
      out.push(`  ${where}${visible(n.rule)}: ${visible(n.reason)}`);
    }
  }

  // Spec coverage, across files.
  const registers = sortedCounts(mergeCounts(result.files.map((f) => f.coverage.registers)));
  const commands = sortedCounts(mergeCounts(result.files.map((f) => f.coverage.commands)));
  if (registers.length || commands.length) {
    out.push('');
    out.push(st.bold('Spec coverage'));
    const items = (xs: [string, number][]) => xs.map(([k, v]) => `${visible(k)}×${v}`);
    if (registers.length) out.push(...wrapItems(`  registers (${registers.length}): `, items(registers), 100, '    '));
    if (commands.length) out.push(...wrapItems(`  commands (${commands.length}): `, items(commands), 100, '    '));
  }

  // Notes: the files' own, and what the reader could not interpret.
  const notes: string[] = [];
  for (const file of result.files) {
    const where = visible(displayPath(file.file, opts.cwd));
    for (const n of file.notes) notes.push(`${where}: ${visible(n)}`);
    const unknown = sortedCounts(file.unknownEvents);
    if (unknown.length) {
      const total = unknown.reduce((a, [, v]) => a + v, 0);
      const top = unknown.slice(0, 8).map(([k, v]) => `${visible(k)}×${v}`).join(', ');
      notes.push(`${where}: ${plural(total, 'event')} of ${plural(unknown.length, 'unknown kind')} not checked (${top}${unknown.length > 8 ? ', …' : ''})`);
    }
  }
  if (notes.length) {
    out.push('');
    out.push(st.bold('Notes'));
    for (const n of notes) out.push(`  ${n}`);
  }

  // The verdict comes last, where a terminal (or `| tail -1`) shows it.
  out.push('');
  const s = result.summary;
  const summary = summaryLine(result);
  out.push(s.errors > 0 ? st.sev('error', summary) : s.warnings > 0 ? st.sev('warning', summary) : st.ok(summary));
  if (result.baseline) {
    const b = result.baseline;
    const from = b.file ? ` (${visible(b.file)})` : '';
    let line = `${plural(b.accepted, 'finding')} accepted by the baseline${from}`;
    if (b.stale > 0) line += `; ${plural(b.stale, 'baseline entry', 'baseline entries')} no longer ${b.stale === 1 ? 'occurs' : 'occur'}`;
    out.push(st.dim(line));
  }

  return `${out.map((l) => l.trimEnd()).join('\n')}\n`;
}
