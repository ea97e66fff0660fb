import path from 'node:path';
import type { ClassifyResult, RowResult } from './classify.js';
import type { EvidenceRow } from './evidence.js';

/** Text, Markdown and JSON views of a classification: the matrix, each row's decision chain, the evidence cited. */

function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function backendText(r: RowResult): string {
  const d = r.derivation;
  return `${d.label}${d.forced ? ' (forced)' : ''}`;
}

function verdictText(r: RowResult): string {
  if (r.findings.some((f) => f.severity === 'error')) return 'REJECTED: claim exceeds evidence';
  if (r.derivation.contradictions.length) return 'contradictory observations';
  if (r.claims.some((c) => c.verdict === 'more-conservative')) return 'ok (claim more conservative than evidence)';
  if (r.claims.every((c) => c.verdict === 'no-claim')) return 'ok (no claim made)';
  return 'ok';
}

function devices(row: EvidenceRow, r: RowResult): string {
  if (row.visible_devices?.length) return row.visible_devices.map((d) => `${d.name}${d.id ? ` [${d.id}]` : ''}`).join('; ');
  const probe = r.evidence.probe;
  if (probe?.devices.length) return probe.devices.filter((d) => !d.classCode.startsWith('06')).map((d) => `${d.bdf} ${d.name} [${d.vendor}:${d.device}]`).join('; ');
  if (row.documented_surfaces?.length) return `documented: ${row.documented_surfaces.join('; ')}`;
  return 'not yet probed';
}

function iommuText(r: RowResult): string {
  const f = r.derivation.facts;
  const tables = ['dmar', 'ivrs', 'iort']
    .map((t) => (f[`acpi.${t}`] === undefined ? undefined : `${t.toUpperCase()} ${f[`acpi.${t}`]}`))
    .filter(Boolean)
    .join(', ');
  const groups = f['iommu.groups'] === undefined ? '' : `${f['iommu.groups']} IOMMU group(s)`;
  const kernel = f['kernel.iommu'] === undefined ? '' : `kernel: IOMMU ${f['kernel.iommu']}`;
  const parts = [tables, groups, kernel].filter(Boolean);
  return parts.length ? parts.join('; ') : 'not observed';
}

function remapText(row: EvidenceRow): string {
  const o = row.remapping_observations;
  if (!o) return 'not observed';
  const bits = (['discovered', 'programmed', 'translation_validated', 'fault_validated', 'invalidation_validated'] as const)
    .filter((k) => o[k] !== undefined)
    .map((k) => `${k.replace('_validated', '')}: ${o[k] ? 'yes' : 'no'}`);
  return [bits.join(', '), o.note].filter(Boolean).join(' — ');
}

function claimText(r: RowResult): string {
  return r.claims.map((c) => `${c.claimed} (${c.verdict})`).join('; ');
}

export function renderMarkdown(results: ClassifyResult[]): string {
  const out: string[] = [];
  for (const res of results) {
    out.push(`## DMA evidence matrix: \`${mdCell(res.file)}\``);
    out.push('');
    out.push(
      '| Provider | Region/zone | Instance type | Image/kernel | Source | Retrieval date | Visible devices | IOMMU tables/groups | Provider-side isolation notes | Guest-programmable remapping | Runtime backend inferred (derived) | Support-policy status | Row claims | Verdict |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of res.rows) {
      const row = r.evidence.row;
      const support = r.derivation.backend === 'bounce-buffer' ? 'Labeled-bounce-buffer' : r.derivation.backend === 'direct-remapping' ? 'Direct-remapping' : 'Unsupported';
      out.push(
        `| ${[
          row.provider,
          row.region_zone,
          `${row.instance_type}${row.machine_class ? ` (${row.machine_class})` : ''}`,
          `${row.image_kernel.image} / ${row.image_kernel.kernel}`,
          row.source,
          row.retrieval_date,
          devices(row, r),
          iommuText(r),
          row.provider_isolation_notes.join('; ') || '—',
          remapText(row),
          `**${backendText(r)}**`,
          `${support} (pending attended sign-off)`,
          claimText(r),
          verdictText(r),
        ]
          .map(mdCell)
          .join(' | ')} |`,
      );
    }
    out.push('');
    out.push('### Decision chains');
    out.push('');
    for (const r of res.rows) {
      out.push(`#### \`${r.id}\` → ${backendText(r)} (decided by \`${r.derivation.decidedBy}\`)`);
      out.push('');
      out.push(`${r.derivation.because}.`);
      out.push('');
      r.derivation.chain.forEach((e, i) => {
        const mark = e.outcome === 'selected' ? `**selects ${e.select}**` : e.outcome === 'noted' ? 'noted' : e.outcome === 'not-applicable' ? 'not applicable' : 'does not hold';
        out.push(`${i + 1}. \`${e.step}\` (${e.effect}) — ${mark}: ${mdCell(e.statement)} _[${mdCell(e.source)}]_`);
        for (const a of e.atoms) out.push(`    - ${mdCell(a)}`);
      });
      const cited = citedEvidence(r);
      if (cited.length) {
        out.push('');
        out.push('Evidence:');
        out.push('');
        for (const c of cited) out.push(`- \`${mdCell(c.fact)}\` = ${mdCell(c.value)} — ${mdCell(c.where)}: \`${mdCell(c.text)}\``);
      }
      for (const f of r.findings) out.push(`\n> **${f.severity} ${f.rule}** (${mdCell(path.basename(f.file))}:${f.line}): ${mdCell(f.message)}`);
      out.push('');
    }
    for (const n of res.notes) out.push(`> note: ${mdCell(n)}`);
    if (res.notes.length) out.push('');
  }
  return out.join('\n');
}

interface Cited {
  fact: string;
  value: string;
  where: string;
  text: string;
}

/** The observations the deciding step looked at, with where each was read. */
function citedEvidence(r: RowResult): Cited[] {
  const decided = r.derivation.chain.find((e) => e.outcome === 'selected');
  if (!decided) return [];
  const facts = new Set(decided.atoms.map((a) => a.replace(/^[✓✗] (not )?/, '').split(/\s|\(/)[0]!));
  if (decided.step === 'contradictory-observations') for (const s of r.evidence.sources) facts.add(s.fact);
  const out: Cited[] = [];
  const seen = new Set<string>();
  for (const s of r.evidence.sources) {
    if (!facts.has(s.fact)) continue;
    const where = `${path.basename(s.file)}:${s.line} (${s.origin})`;
    const key = `${s.fact}@${where}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ fact: s.fact, value: JSON.stringify(s.value), where, text: s.text.trim() });
  }
  return out;
}

export function renderText(results: ClassifyResult[]): string {
  const out: string[] = [];
  for (const res of results) {
    out.push(`${res.file}: ${res.rows.length} row(s) (${res.input === 'probe' ? 'raw probe capture' : 'evidence matrix'})`);
    for (const r of res.rows) {
      const row = r.evidence.row;
      out.push('');
      out.push(`row ${r.id} [${path.basename(res.file)}:${r.evidence.line}]: ${row.provider} ${row.instance_type}${row.machine_class ? ` (${row.machine_class})` : ''}, ${row.image_kernel.kernel}, ${row.retrieval_date}`);
      out.push(`  derived backend: ${backendText(r)} — by ${r.derivation.decidedBy}: ${r.derivation.because}`);
      if (r.claims.length) out.push(`  row claims: ${r.claims.map((c) => `${c.field}=${c.claimed} (${c.verdict})`).join('; ')}`);
      out.push('  decision chain:');
      r.derivation.chain.forEach((e, i) => {
        const mark = e.outcome === 'selected' ? `SELECTS ${e.select}` : e.outcome === 'noted' ? 'noted' : e.outcome === 'not-applicable' ? 'n/a' : 'does not hold';
        out.push(`    ${i + 1}. ${e.step} [${e.effect}] ${mark} — ${e.statement} [${e.source}]`);
        for (const a of e.atoms) out.push(`         ${a}`);
      });
      const cited = citedEvidence(r);
      if (cited.length) {
        out.push('  evidence:');
        for (const c of cited) out.push(`    ${c.fact} = ${c.value}  ${c.where}: ${c.text}`);
      }
      for (const f of r.findings) out.push(`  ${path.basename(f.file)}:${f.line}: ${f.severity} ${f.rule}: ${f.message}`);
    }
    for (const n of res.notes) out.push(`note: ${n}`);
    out.push('');
  }
  return out.join('\n');
}

export function renderJson(results: ClassifyResult[]): string {
  return `${JSON.stringify(
    results.map((res) => ({
      file: res.file,
      input: res.input,
      rows: res.rows.map((r) => ({
        id: r.id,
        line: r.evidence.line,
        row: r.evidence.row,
        facts: r.derivation.facts,
        backend: r.derivation.backend,
        label: r.derivation.label,
        forced: r.derivation.forced,
        decided_by: r.derivation.decidedBy,
        because: r.derivation.because,
        chain: r.derivation.chain,
        contradictions: r.derivation.contradictions,
        claims: r.claims,
        evidence: r.evidence.sources.map((s) => ({ fact: s.fact, value: s.value, file: s.file, line: s.line, origin: s.origin, text: s.text })),
      })),
      findings: res.findings,
      exercised: res.exercised,
      notes: res.notes,
    })),
    null,
    2,
  )}\n`;
}
