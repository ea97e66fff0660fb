import type { Finding, ProofRow, ProofTable as BaseProofTable, SourceRef } from '../findings/finding.js';
import { BootTracker, parseSerialLine, type SerialLine } from '../parse/serial.js';
import { loadProofCatalog, type ProofCatalog, type ProofKind, type ProofRule } from './catalog.js';
import { CHECKS, fillMessage, lookupShape, relFile, resolveSpecs, type BootRec, type CheckResult, type KeyVal, type LineRec } from './checks.js';
import type { Verdict } from './checks-registry.js';

/**
 * Checks the proof lines of a serial log. Feed every line in order with `line()`; `finish()` returns the
 * findings, one verdict table per proof line, the rules exercised and notes. Lines are grouped into boots
 * (BootTracker); a boot's proof lines are checked when the boot ends, because some rules need the whole boot
 * (a classification needs a backend selection somewhere in the same boot, before or after it).
 * When several rules fail the same key of the same line, only the first in catalog order reports it.
 */

export interface ProofTableRow extends ProofRow {
  verdict: Verdict;
  source: string;
  /** Rule that decided a non-ok verdict. */
  rule?: string;
}

export interface ProofTable extends BaseProofTable {
  kind: string;
  prefix: string;
  line: number;
  boot: number;
  shape?: string;
  rows: ProofTableRow[];
}

export interface SerialProofResult {
  findings: Finding[];
  tables: ProofTable[];
  exercised: string[];
  notes: string[];
}

export interface SerialProofOptions {
  file: string;
  shapeDir?: string;
  /** Checking isolated lines (the proof-line command): same-boot presence rules are not decided. */
  isolated?: boolean;
  /** Disable the serial parser's noise fast path. */
  fastPath?: boolean;
}

const ERROR_VERDICTS = new Set<Verdict>(['missing', 'wrong', 'over-claims']);

export class SerialProofChecker {
  readonly cat: ProofCatalog;
  private readonly file: string;
  private readonly isolated: boolean;
  private readonly fastPath: boolean | undefined;
  private readonly prefixes: string[];
  private readonly tracker = new BootTracker();
  private boot: BootRec;
  private readonly boots: { boot: number; startLine: number; reason: string; proofLines: number }[] = [];
  private readonly findings: Finding[] = [];
  private readonly tables: ProofTable[] = [];
  private readonly exercised = new Set<string>();
  private readonly notChecked = new Map<string, string>();
  private readonly otherProofLike = new Map<string, number>();
  private proofLines = 0;
  private lastLine = 0;
  private finished: SerialProofResult | undefined;

  constructor(opts: SerialProofOptions) {
    this.file = opts.file;
    this.isolated = !!opts.isolated;
    this.fastPath = opts.fastPath;
    this.cat = loadProofCatalog({ shapeDir: opts.shapeDir });
    this.prefixes = [...this.cat.byPrefix.keys()];
    this.boot = { boot: 1, startLine: 1, startReason: 'start of log', lines: [] };
  }

  line(text: string, lineNo: number): void {
    if (this.finished) throw new Error('SerialProofChecker: line() after finish()');
    this.lastLine = lineNo;
    const parsed: SerialLine = parseSerialLine(text, { prefixes: this.prefixes, fastPath: this.fastPath });
    const change = this.tracker.feed(parsed, lineNo);
    if (change.started) {
      this.closeBoot();
      this.boot = { boot: change.boot, startLine: lineNo, startReason: change.reason ?? 'boot start', lines: [] };
    } else if (this.boot.lines.length === 0 && this.tracker.startLine === lineNo) {
      this.boot.startLine = lineNo;
      this.boot.startReason = this.tracker.startReason;
    }
    if (parsed.type === 'proof') {
      const prefix = `${parsed.subsystem}: ${parsed.phrase}`;
      const kind = this.cat.byPrefix.get(prefix);
      if (!kind) {
        this.otherProofLike.set(prefix, (this.otherProofLike.get(prefix) ?? 0) + 1);
        return;
      }
      this.proofLines++;
      this.boot.lines.push(this.record(kind, parsed.fields, text, lineNo, parsed.col));
    } else if (parsed.type === 'malformed') {
      const kind = this.cat.byPrefix.get(parsed.prefix)!;
      this.proofLines++;
      const rec = this.record(kind, [], text, lineNo, 1);
      rec.malformed = { col: parsed.col, expected: parsed.expected, found: parsed.found, message: parsed.message };
      this.boot.lines.push(rec);
    }
  }

  private record(kind: ProofKind, fields: KeyVal[], text: string, lineNo: number, col: number): LineRec {
    const first = new Map<string, KeyVal>();
    for (const f of fields) if (!first.has(f.key)) first.set(f.key, f);
    const shape = lookupShape(this.cat, kind, first);
    const { specs, complete } = resolveSpecs(this.cat, kind, shape);
    return { kind, lineNo, raw: text.replace(/\r+$/, ''), col, boot: this.boot.boot, fields, first, shape, specs, specsComplete: complete };
  }

  private closeBoot(): void {
    const boot = this.boot;
    this.boots.push({ boot: boot.boot, startLine: boot.startLine, reason: boot.startReason, proofLines: boot.lines.length });
    for (const line of boot.lines) this.checkLine(line, boot);
  }

  private rulesFor(kind: ProofKind): ProofRule[] {
    return this.cat.rules.filter((r) => r.kinds === '*' || r.kinds.has(kind.id));
  }

  private checkLine(line: LineRec, boot: BootRec): void {
    const decided = new Map<string, { verdict: Verdict; reason: string; source: string; rule: string }>();
    const passed = new Map<string, string[]>();
    for (const rule of this.rulesFor(line.kind)) {
      if (line.malformed && rule.check !== 'syntax') continue;
      const fn = CHECKS[rule.check];
      if (!fn) continue;
      const results = fn(rule, line, { cat: this.cat, file: this.file, boot, isolated: this.isolated });
      if (results === 'skip') {
        if (this.isolated && (rule.check === 'cross-line-same-boot' || rule.options.via !== undefined)) {
          this.notChecked.set(rule.meta.id, 'needs the whole boot: check the serial log, not a single line');
        }
        continue;
      }
      this.exercised.add(rule.meta.id);
      for (const r of results) {
        if (r.ok) {
          const list = passed.get(r.field) ?? [];
          if (!list.includes(rule.meta.id)) list.push(rule.meta.id);
          passed.set(r.field, list);
          continue;
        }
        if (decided.has(r.field)) continue; // an earlier rule already reported this key of this line
        this.emit(rule, line, r);
        decided.set(r.field, { verdict: r.verdict ?? 'wrong', reason: fillMessage(rule.meta.message, this.bindings(line, r)), source: rule.meta.section, rule: rule.meta.id });
      }
    }
    this.tables.push(this.table(line, boot, decided, passed));
  }

  private bindings(line: LineRec, r: CheckResult): Record<string, string> {
    return { kind: line.kind.id, prefix: line.kind.prefix, line: String(line.lineNo), ...r.bindings };
  }

  private emit(rule: ProofRule, line: LineRec, r: CheckResult): void {
    const related: SourceRef[] = r.related ?? [];
    this.findings.push({
      rule: rule.meta.id,
      severity: rule.meta.severity,
      message: fillMessage(rule.meta.message, this.bindings(line, r)),
      file: this.file,
      line: line.lineNo,
      col: r.col ?? line.first.get(r.field)?.col ?? line.col,
      raw: line.raw,
      related,
      binding: `proof:${line.kind.id}:${r.field}`,
      section: rule.meta.section,
      source: 'model',
    });
  }

  private table(
    line: LineRec,
    boot: BootRec,
    decided: Map<string, { verdict: Verdict; reason: string; source: string; rule: string }>,
    passed: Map<string, string[]>,
  ): ProofTable {
    const rows: ProofTableRow[] = [];
    const specSource = relFile(line.kind.file);
    if (line.malformed) {
      const d = decided.get('(syntax)');
      rows.push({ field: '(syntax)', value: line.raw, verdict: 'wrong', reason: d?.reason ?? line.malformed.message, source: d?.source ?? 'grammar/serial.ohm', rule: d?.rule });
    }
    const shown = new Set<string>();
    for (const kv of line.fields) {
      const dupe = shown.has(kv.key);
      shown.add(kv.key);
      const d = decided.get(kv.key);
      const spec = line.specs.get(kv.key);
      if (dupe) {
        rows.push({ field: kv.key, value: kv.value, verdict: 'wrong', reason: `repeated key: only the first \`${kv.key}=\` is read`, source: specSource, rule: d?.rule });
        continue;
      }
      if (d) {
        rows.push({ field: kv.key, value: kv.value, verdict: d.verdict, reason: d.reason, source: d.source, rule: d.rule });
        continue;
      }
      const checks = passed.get(kv.key) ?? [];
      const meaning = spec?.meaning ?? 'not a key of this kind';
      rows.push({
        field: kv.key,
        value: kv.value,
        verdict: 'ok',
        reason: checks.length ? `${meaning}; passes ${checks.join(', ')}` : meaning,
        source: spec?.source ?? specSource,
      });
    }
    // Missing keys and line-level verdicts that bind to a key not printed.
    for (const [field, d] of decided) {
      if (shown.has(field) || field === '(syntax)') continue;
      rows.push({ field, verdict: d.verdict, reason: d.reason, source: d.source, rule: d.rule });
    }
    return {
      kind: line.kind.id,
      prefix: line.kind.prefix,
      line: line.lineNo,
      boot: boot.boot,
      shape: line.shape ? line.shape.id : undefined,
      rows,
    };
  }

  finish(): SerialProofResult {
    if (this.finished) return this.finished;
    this.closeBoot();
    const notes: string[] = [];
    if (this.proofLines === 0) {
      notes.push(`no proof lines found (looked for: ${[...this.cat.byPrefix.keys()].map((p) => `\`${p}\``).join(', ')}); nothing was checked`);
    } else {
      const withProof = this.boots.filter((b) => b.proofLines > 0);
      notes.push(`${this.proofLines} proof line(s) in ${withProof.length} of ${this.boots.length} boot(s)`);
    }
    if (this.boots.length > 1) {
      notes.push(`boots: ${this.boots.map((b) => `#${b.boot} from line ${b.startLine} (${b.reason})`).join('; ')}`);
    }
    for (const [prefix, n] of this.otherProofLike) notes.push(`ignored ${n} line(s) shaped like proof lines of an unknown kind: \`${prefix}\``);
    for (const [rule, why] of this.notChecked) notes.push(`${rule} not checked: ${why}`);
    this.findings.sort((a, b) => a.line - b.line || (a.col ?? 0) - (b.col ?? 0));
    this.tables.sort((a, b) => a.line - b.line);
    this.finished = { findings: this.findings, tables: this.tables, exercised: [...this.exercised].sort(), notes };
    void this.lastLine;
    return this.finished;
  }

  /** Rule ids that could not be decided (single-line mode), with why. */
  notCheckedRules(): { rule: string; reason: string }[] {
    return [...this.notChecked].map(([rule, reason]) => ({ rule, reason }));
  }
}

export function isErrorVerdict(v: Verdict): boolean {
  return ERROR_VERDICTS.has(v);
}
