import fs from 'node:fs';
import path from 'node:path';
import type { Finding, SourceRef } from '../findings/finding.js';
import { loadProofCatalog, type Backend, type ProofRule } from '../proof/catalog.js';
import { fillMessage } from '../proof/checks.js';
import { UserError } from '../util/errors.js';
import { describeAtom, type Atom, type Facts } from './condition.js';
import { probeEvidence, readEvidenceFile, type LocatedSource, type RowEvidence } from './evidence.js';
import { parseProbe } from './probe.js';
import { loadClassificationSpec, type ClassificationSpec } from './spec.js';

/**
 * Fail-closed DMA backend classification (specs/dma/classification.yaml) of evidence rows and probe captures,
 * and the evidence rules of specs/rules/dma-classification.yaml (check kinds evidence-claim and
 * evidence-contradiction): a row may not claim a backend stronger than its observations derive, and a row whose
 * observations contradict each other is reported and classified Unsupported.
 */

export interface ChainEntry {
  step: string;
  effect: 'note' | 'select';
  outcome: 'noted' | 'not-applicable' | 'selected' | 'not-matched';
  statement: string;
  source: string;
  select?: string;
  atoms: string[];
}

export interface Derivation {
  backend: string;
  label: string;
  forced: boolean;
  decidedBy: string;
  because: string;
  /** `because` without the contradiction details (for one-line reasons). */
  summary: string;
  chain: ChainEntry[];
  contradictions: string[];
  /** Notes (note steps that held) in one-line form. */
  notes: string[];
  /** The facts the steps saw (observed plus derived). */
  facts: Facts;
}

export interface ClaimVerdict {
  field: string;
  claimed: string;
  backend: string | null;
  line: number;
  verdict: 'agrees' | 'exceeds-evidence' | 'more-conservative' | 'no-claim';
}

export interface RowResult {
  id: string;
  evidence: RowEvidence;
  derivation: Derivation;
  claims: ClaimVerdict[];
  findings: Finding[];
}

export interface ClassifyResult {
  file: string;
  input: 'evidence' | 'probe';
  rows: RowResult[];
  findings: Finding[];
  exercised: string[];
  notes: string[];
}

export interface Classifier {
  spec: ClassificationSpec;
  backends: Backend[];
  rules: ProofRule[];
}

export function loadClassifier(): Classifier {
  const cat = loadProofCatalog();
  const backends = cat.policy.backends;
  const spec = loadClassificationSpec(undefined, backends.map((b) => b.id));
  return { spec, backends, rules: cat.evidenceRules };
}

/** Runs derived facts, contradictions and the ordered steps over a fact set. */
export function deriveBackend(c: Classifier, input: Facts, conflicts: string[] = []): Derivation {
  const facts: Facts = { ...input };
  for (const d of c.spec.derived) {
    if (facts[d.fact] !== undefined) continue;
    const hit = d.cases.find((k) => k.when(facts));
    if (hit) facts[d.fact] = hit.value;
  }
  const contradictions = [...new Set(conflicts)];
  for (const k of c.spec.contradictions) if (k.when(facts)) contradictions.push(k.detail);
  facts.contradictions = contradictions.length;

  const chain: ChainEntry[] = [];
  const notes: string[] = [];
  let decided: { step: (typeof c.spec.steps)[number] } | undefined;
  for (const step of c.spec.steps) {
    const atoms: Atom[] = [];
    const ok = step.when(facts, atoms);
    const shown = atoms.map(describeAtom);
    if (step.effect === 'note') {
      chain.push({ step: step.id, effect: 'note', outcome: ok ? 'noted' : 'not-applicable', statement: step.statement, source: step.source, atoms: shown });
      if (ok) notes.push(step.because ?? step.statement);
      continue;
    }
    if (decided) continue;
    chain.push({ step: step.id, effect: 'select', outcome: ok ? 'selected' : 'not-matched', statement: step.statement, source: step.source, select: step.select, atoms: shown });
    if (ok) decided = { step };
  }
  const step = decided!.step;
  const backend = c.backends.find((b) => b.id === step.select)!;
  return {
    backend: backend.id,
    label: backend.label,
    forced: !!step.forced,
    decidedBy: step.id,
    because: contradictions.length && step.id === 'contradictory-observations' ? `${step.because ?? step.statement}: ${contradictions.join('; ')}` : (step.because ?? step.statement),
    summary: step.because ?? step.statement,
    chain,
    contradictions,
    notes,
    facts,
  };
}

function strength(c: Classifier, id: string): number {
  return c.backends.find((b) => b.id === id)?.strength ?? 0;
}

function findingFor(rule: ProofRule, ev: RowEvidence, line: number, bindings: Record<string, string>, related: SourceRef[], field: string): Finding {
  return {
    rule: rule.meta.id,
    severity: rule.meta.severity,
    message: fillMessage(rule.meta.message, { kind: 'evidence', prefix: 'evidence row', line: String(line), ...bindings }),
    file: ev.file,
    line,
    related,
    binding: `evidence:${ev.row.id}:${field}`,
    section: rule.meta.section,
    source: 'model',
  };
}

function sourceRefs(sources: LocatedSource[], facts: string[]): SourceRef[] {
  const out: SourceRef[] = [];
  for (const s of sources) {
    if (!facts.includes(s.fact)) continue;
    if (out.some((o) => o.file === s.file && o.line === s.line)) continue;
    out.push({ file: s.file, line: s.line, raw: s.text, note: `${s.fact} = ${JSON.stringify(s.value)} (${s.origin})` });
  }
  return out;
}

export function classifyRow(c: Classifier, ev: RowEvidence, exercised: Set<string>): RowResult {
  const d = deriveBackend(c, ev.facts, ev.conflicts);
  const findings: Finding[] = [];
  const claims: ClaimVerdict[] = [];
  for (const rule of c.rules) {
    if (rule.check === 'evidence-contradiction') {
      exercised.add(rule.meta.id);
      if (d.contradictions.length) {
        findings.push(findingFor(rule, ev, ev.line, { row: ev.row.id, detail: d.contradictions.join('; ') }, [], 'observations'));
      }
    } else if (rule.check === 'evidence-claim') {
      for (const field of rule.options.claim_fields as string[]) {
        const claimed = (ev.row as unknown as Record<string, unknown>)[field];
        if (typeof claimed !== 'string') continue;
        exercised.add(rule.meta.id);
        const backend = c.spec.claims[claimed];
        const line = ev.keyLines[field] ?? ev.line;
        if (backend === undefined) throw new UserError(`${ev.file}:${line}: row ${ev.row.id}: ${field} '${claimed}' is not a claim value of specs/dma/classification.yaml (claims:)`);
        if (backend === null) {
          claims.push({ field, claimed, backend, line, verdict: 'no-claim' });
          continue;
        }
        const diff = strength(c, backend) - strength(c, d.backend);
        claims.push({ field, claimed, backend, line, verdict: diff > 0 ? 'exceeds-evidence' : diff < 0 ? 'more-conservative' : 'agrees' });
        if (diff > 0) {
          const reason = [d.summary, ...d.notes].join('; ');
          const related = sourceRefs(ev.sources, ['kernel.iommu', 'acpi.dmar', 'acpi.ivrs', 'acpi.iort', 'iommu.groups', 'swiotlb', 'mem_encrypt', 'remapping.translation']);
          findings.push(findingFor(rule, ev, line, { row: ev.row.id, claim_field: field, claimed, derived: d.backend, reason }, related, field));
        }
      }
    }
  }
  return { id: ev.row.id, evidence: ev, derivation: d, claims, findings };
}

function looksLikeEvidenceYaml(text: string): boolean {
  return /^kind:\s*evidence\s*$/m.test(text);
}

export function classifyFile(file: string, c: Classifier = loadClassifier()): ClassifyResult {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new UserError(`${file}: is a directory, not an evidence file or probe capture`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`);
  }
  const exercised = new Set<string>();
  const notes: string[] = [];
  let rows: RowEvidence[];
  let input: ClassifyResult['input'];
  if (looksLikeEvidenceYaml(text)) {
    input = 'evidence';
    rows = readEvidenceFile(file, c.spec).rows;
  } else {
    input = 'probe';
    const cap = parseProbe(text, file, c.spec.surfaces);
    rows = [probeEvidence(cap)];
    notes.push(...cap.notes);
  }
  const results = rows.map((ev) => classifyRow(c, ev, exercised));
  for (const r of results) for (const n of r.evidence.probe?.notes ?? []) if (input === 'evidence') notes.push(`${path.basename(r.evidence.probe!.file)}: ${n}`);
  const findings = results.flatMap((r) => r.findings).sort((a, b) => a.line - b.line);
  return { file, input, rows: results, findings, exercised: [...exercised].sort(), notes };
}
