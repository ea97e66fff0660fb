import fs from 'node:fs';
import path from 'node:path';
import type { Node } from 'yaml';
import { loadSpecFile, nodeAtPath, type LoadedSpec, yamlLib } from '../specs/load.js';
import { UserError } from '../util/errors.js';
import type { Facts, FactValue } from './condition.js';
import { factsFromKernelLines, readProbeFile, surfaceKind, type FactSource, type ProbeCapture } from './probe.js';
import type { ClassificationSpec } from './spec.js';

/**
 * Evidence-matrix rows (specs/schema/evidence.schema.json) turned into facts. A fact can be observed by several
 * sources (the row's columns, its verbatim kernel_log, its raw probe); when two sources disagree the row is
 * contradictory. Every fact keeps where it was read (file:line), for the decision chain.
 */

export interface EvidenceRow {
  id: string;
  provider: string;
  region_zone: string;
  instance_type: string;
  machine_class?: string;
  image_kernel: { image: string; kernel: string };
  source: string;
  retrieval_date: string;
  documented_surfaces?: string[];
  visible_devices?: { bdf?: string; class?: string; id?: string; name: string; driver?: string }[];
  iommu?: { acpi_tables?: Record<string, 'present' | 'absent'>; groups?: number };
  cmdline?: string;
  kernel_log?: string[];
  dma_path?: { swiotlb?: string; swiotlb_mb?: number; memory_encryption?: string; memory_encryption_kind?: string };
  provider_isolation_notes: string[];
  remapping_observations?: {
    discovered?: boolean;
    programmed?: boolean;
    translation_validated?: boolean;
    fault_validated?: boolean;
    invalidation_validated?: boolean;
    note?: string;
  };
  runtime_backend_inferred: string;
  support_policy_status: string;
  probe?: string;
  notes?: string;
}

export interface LocatedSource extends FactSource {
  file: string;
  origin: string; // "row column iommu.groups", "row kernel_log", "probe"
}

export interface RowEvidence {
  row: EvidenceRow;
  file: string;
  /** 1-based line of the row (its first key) in the evidence file. */
  line: number;
  /** Line of each top-level key of the row. */
  keyLines: Record<string, number>;
  facts: Facts;
  sources: LocatedSource[];
  /** Disagreements between sources of one fact. */
  conflicts: string[];
  probe?: ProbeCapture;
}

export interface EvidenceFile {
  file: string;
  description?: string;
  rows: RowEvidence[];
}

const nodeAt = nodeAtPath;

function lineOfNode(spec: LoadedSpec, n: Node | undefined): number {
  return spec.lineCounter.linePos(n?.range?.[0] ?? 0).line;
}

class FactSet {
  readonly facts: Facts = {};
  readonly sources: LocatedSource[] = [];
  readonly conflicts: string[] = [];
  private readonly first = new Map<string, LocatedSource>();
  private readonly conflicted = new Set<string>();

  add(s: LocatedSource): void {
    const prev = this.first.get(s.fact);
    this.sources.push(s);
    if (!prev) {
      this.first.set(s.fact, s);
      this.facts[s.fact] = s.value;
      return;
    }
    if (prev.value !== s.value && !this.conflicted.has(s.fact)) {
      this.conflicted.add(s.fact);
      this.conflicts.push(`${s.fact}: ${prev.origin} says ${JSON.stringify(prev.value)} (${path.basename(prev.file)}:${prev.line}), ${s.origin} says ${JSON.stringify(s.value)} (${path.basename(s.file)}:${s.line})`);
    }
  }
}

export function rowEvidence(spec: LoadedSpec, index: number, row: EvidenceRow, cls: ClassificationSpec): RowEvidence {
  const file = spec.file;
  const rowNode = nodeAt(spec, ['rows', index]);
  const keyLines: Record<string, number> = {};
  if (yamlLib().isMap(rowNode)) {
    for (const it of rowNode.items) {
      const k = (it.key as { value?: unknown } | null)?.value;
      if (typeof k === 'string') keyLines[k] = lineOfNode(spec, it.key as Node);
    }
  }
  const line = lineOfNode(spec, rowNode);
  const fs_ = new FactSet();
  const col = (fact: string, value: FactValue | undefined, key: string, origin: string, text?: string): void => {
    if (value === undefined) return;
    const l = lineOfNode(spec, nodeAt(spec, ['rows', index, ...key.split('.')])) || keyLines[key.split('.')[0]!] || line;
    fs_.add({ fact, value, line: l, text: text ?? `${key}: ${String(value)}`, file, origin });
  };
  let observed = false;
  const t = row.iommu?.acpi_tables;
  if (t) {
    observed = true;
    for (const name of ['dmar', 'ivrs', 'iort', 'viot']) col(`acpi.${name}`, t[name], `iommu.acpi_tables.${name}`, 'row column iommu.acpi_tables');
  }
  if (row.iommu?.groups !== undefined) {
    observed = true;
    col('iommu.groups', row.iommu.groups, 'iommu.groups', 'row column iommu.groups');
  }
  if (row.dma_path) {
    observed = true;
    col('swiotlb', row.dma_path.swiotlb, 'dma_path.swiotlb', 'row column dma_path');
    col('swiotlb_mb', row.dma_path.swiotlb_mb, 'dma_path.swiotlb_mb', 'row column dma_path');
    col('mem_encrypt', row.dma_path.memory_encryption, 'dma_path.memory_encryption', 'row column dma_path');
  }
  const r = row.remapping_observations;
  if (r) {
    observed = true;
    col('remapping.discovered', r.discovered, 'remapping_observations.discovered', 'row column remapping_observations');
    col('remapping.programmed', r.programmed, 'remapping_observations.programmed', 'row column remapping_observations');
    col('remapping.translation', r.translation_validated, 'remapping_observations.translation_validated', 'row column remapping_observations');
    col('remapping.fault', r.fault_validated, 'remapping_observations.fault_validated', 'row column remapping_observations');
    col('remapping.invalidation', r.invalidation_validated, 'remapping_observations.invalidation_validated', 'row column remapping_observations');
  }
  if (row.cmdline !== undefined) {
    observed = true;
    const off = /(^|\s)(intel_iommu|amd_iommu|iommu)=off(\s|$)/.test(row.cmdline);
    col('cmdline.iommu_off', off, 'cmdline', 'row column cmdline', row.cmdline);
  }
  if (row.kernel_log) {
    observed = true;
    const first = lineOfNode(spec, nodeAt(spec, ['rows', index, 'kernel_log', 0]));
    const k = factsFromKernelLines(row.kernel_log, first);
    if (k.problems.length) throw new UserError(`${file}:${first}: row ${row.id}: ${k.problems.join('; ')}`);
    // kernel_log lines are one YAML item each: report the line of the item.
    for (const s of k.sources) {
      const idx = row.kernel_log.findIndex((l) => l.includes(s.text.trim()) || s.text.includes(l.trim()));
      const l = idx >= 0 ? lineOfNode(spec, nodeAt(spec, ['rows', index, 'kernel_log', idx])) : first;
      fs_.add({ ...s, line: l, file, origin: 'row kernel_log' });
    }
  }
  let surfaces = row.documented_surfaces?.length ?? 0;
  if (row.visible_devices) {
    observed = true;
    surfaces += row.visible_devices.filter((d) => surfaceKind(cls.surfaces, d.class ?? '', d.id) !== undefined).length;
  }
  let probe: ProbeCapture | undefined;
  if (row.probe) {
    const pfile = path.resolve(path.dirname(file), row.probe);
    if (!fs.existsSync(pfile)) throw new UserError(`${file}:${keyLines.probe ?? line}: row ${row.id}: probe file ${row.probe} does not exist`);
    probe = readProbeFile(pfile, cls.surfaces);
    observed = true;
    for (const s of probe.sources) fs_.add({ ...s, file: pfile, origin: 'probe' });
  }
  if (!(probe && probe.facts['surfaces.dma_capable'] !== undefined)) {
    fs_.facts['surfaces.dma_capable'] = surfaces;
  }
  fs_.facts['provider_isolation.noted'] = row.provider_isolation_notes.length > 0;
  fs_.facts.observed = observed;
  return { row, file, line, keyLines, facts: fs_.facts, sources: fs_.sources, conflicts: fs_.conflicts, probe };
}

export function readEvidenceFile(file: string, cls: ClassificationSpec): EvidenceFile {
  const spec = loadSpecFile<{ description?: string; rows: EvidenceRow[] }>(file, 'evidence');
  const seen = new Set<string>();
  const rows = spec.data.rows.map((row, i) => {
    if (seen.has(row.id)) throw new UserError(`${file}: duplicate row id '${row.id}'`);
    seen.add(row.id);
    return rowEvidence(spec, i, row, cls);
  });
  return { file, description: spec.data.description, rows };
}

/** A bare probe capture classified on its own: a row built from its `# key: value` header. */
export function probeEvidence(cap: ProbeCapture): RowEvidence {
  const m = cap.meta;
  const fs_ = new FactSet();
  for (const s of cap.sources) fs_.add({ ...s, file: cap.file, origin: 'probe' });
  fs_.facts.observed = true;
  fs_.facts['provider_isolation.noted'] = false;
  if (fs_.facts['surfaces.dma_capable'] === undefined) fs_.facts['surfaces.dma_capable'] = 0;
  const row: EvidenceRow = {
    id: m['id'] ?? path.basename(cap.file).replace(/\.(probe\.)?txt$/, ''),
    provider: m['provider'] ?? 'unknown',
    region_zone: m['zone'] ?? m['region-zone'] ?? m['region'] ?? 'unrecorded',
    instance_type: m['instance-type'] ?? m['machine-type'] ?? 'unrecorded',
    image_kernel: { image: m['image'] ?? 'unrecorded', kernel: m['kernel'] ?? 'unrecorded' },
    source: m['source'] ?? 'raw probe capture',
    retrieval_date: m['date'] ?? m['retrieval-date'] ?? 'unrecorded',
    provider_isolation_notes: [],
    runtime_backend_inferred: 'not-yet-selected',
    support_policy_status: 'not-yet-selected',
  };
  return { row, file: cap.file, line: 1, keyLines: {}, facts: fs_.facts, sources: fs_.sources, conflicts: fs_.conflicts, probe: cap };
}
