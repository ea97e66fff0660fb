import fs from 'node:fs';
import path from 'node:path';
import type { Document, LineCounter, Node } from 'yaml';
import { checkSpecText, yamlLib } from '../specs/load.js';
import { renderMessage } from '../rules/engine.js';
import { truthy, type Scope, type Value } from '../rules/expr.js';
import { UserError, type Located } from '../util/errors.js';
import { loadDiskContract, type DescriptorCheck, type DiskContract, type UnmapBehaviour } from './contract.js';
import type { DeclaredNamespace } from './ns-state.js';

/**
 * Disk descriptions (kind `disk`: one backend, possibly layered, striped or wrapped) and namespace lists (kind
 * `disk-namespaces`) checked against the disk contract's descriptor checks. Every problem is located at its YAML
 * node (file:line:col). The same files give `nvmeproof check --namespace` the geometry of the namespaces a trace
 * does not print.
 */

export interface DiskProblem extends Located {
  severity: 'error' | 'warning';
  /** The contract check id, or `schema` when the file is not a well-formed description. */
  check: string;
  section?: string;
}

export interface DiskValidation {
  file: string;
  kind?: string;
  /** False when the file is not a well-formed description (YAML or schema problems); then only those are listed. */
  wellFormed: boolean;
  problems: DiskProblem[];
  /** How many check evaluations ran (nodes x applicable checks). */
  evaluated: number;
  /** The namespaces the file describes (a disk is exposed as one namespace). */
  namespaces: DeclaredNamespace[];
}

interface DiskNode {
  type?: string;
  name?: string;
  logical_sector_size?: number;
  physical_sector_size?: number;
  sector_count?: number;
  disk_id?: string;
  fua_respected?: boolean;
  read_only?: boolean;
  unmap?: UnmapBehaviour;
  optimal_unmap_sectors?: number;
  resizable?: boolean;
  resize_notify?: boolean;
  layers?: DiskNode[];
  stripes?: { chunk_sectors?: number; members: DiskNode[] };
  inner?: DiskNode;
}

type Kind = 'leaf' | 'layered' | 'striped' | 'decorator';

interface Effective {
  logical_sector_size: number | null;
  physical_sector_size: number | null;
  sector_count: number | null;
  fua_respected: boolean | null;
  read_only: boolean | null;
  unmap: UnmapBehaviour | null;
  resizable: boolean | null;
  resize_notify: boolean | null;
}

const FIELDS = ['logical_sector_size', 'physical_sector_size', 'sector_count', 'fua_respected', 'read_only', 'unmap', 'resizable', 'resize_notify'] as const;

function kindOf(n: DiskNode): Kind {
  return n.layers ? 'layered' : n.stripes ? 'striped' : n.inner ? 'decorator' : 'leaf';
}
function membersOf(n: DiskNode): DiskNode[] {
  return n.layers ?? n.stripes?.members ?? (n.inner ? [n.inner] : []);
}
/** The disks a write to this one reaches: every stripe, the top layer, the wrapped disk. */
function writeTargets(n: DiskNode): DiskNode[] {
  return n.stripes?.members ?? (n.layers ? n.layers.slice(0, 1) : n.inner ? [n.inner] : []);
}

const allEq = <T>(xs: T[]): T | null => (xs.length > 0 && xs.every((x) => x === xs[0]) ? xs[0]! : null);
function tri(xs: (boolean | null)[], mode: 'all' | 'any'): boolean | null {
  if (mode === 'all') return xs.some((x) => x === false) ? false : xs.length > 0 && xs.every((x) => x === true) ? true : null;
  return xs.some((x) => x === true) ? true : xs.length > 0 && xs.every((x) => x === false) ? false : null;
}

/** What the composition of a disk gives, field by field (null: not determined by its members). */
function derive(n: DiskNode, eff: (m: DiskNode) => Effective): Effective {
  const kind = kindOf(n);
  const ms = membersOf(n).map(eff);
  const ws = writeTargets(n).map(eff);
  if (kind === 'leaf') {
    return {
      logical_sector_size: null,
      physical_sector_size: n.logical_sector_size ?? null,
      sector_count: null,
      fua_respected: null,
      read_only: null,
      unmap: null,
      resizable: false,
      resize_notify: false,
    };
  }
  const top = ms[0]!;
  const counts = ms.map((m) => m.sector_count);
  let sectorCount: number | null = null;
  if (kind === 'striped') {
    if (counts.every((c) => c !== null)) {
      const min = Math.min(...(counts as number[]));
      const chunk = n.stripes?.chunk_sectors ?? 1;
      sectorCount = chunk >= 1 ? Math.floor(min / chunk) * chunk * ms.length : null;
    }
  } else sectorCount = top.sector_count;
  const phys = ms.map((m) => m.physical_sector_size);
  const resizing = ms.filter((m) => m.resizable === true);
  return {
    logical_sector_size: allEq(ms.map((m) => m.logical_sector_size)),
    physical_sector_size: phys.every((p) => p !== null) ? Math.max(...(phys as number[])) : null,
    sector_count: sectorCount,
    fua_respected: tri(ws.map((m) => m.fua_respected), 'all'),
    read_only: tri(ws.map((m) => m.read_only), 'any'),
    unmap: allEq(ms.map((m) => m.unmap)) ?? (ms.some((m) => m.unmap === null) ? null : 'unspecified'),
    resizable: tri(ms.map((m) => m.resizable), 'any'),
    resize_notify: resizing.length === 0 ? null : resizing.every((m) => m.resize_notify === true),
  };
}

function effectiveOf(n: DiskNode, memo: Map<DiskNode, Effective>): Effective {
  const hit = memo.get(n);
  if (hit) return hit;
  const d = derive(n, (m) => effectiveOf(m, memo));
  const e = {} as Record<string, unknown>;
  for (const f of FIELDS) e[f] = (n[f] as unknown) ?? d[f];
  if (kindOf(n) === 'leaf') {
    e.resizable ??= false;
    e.resize_notify ??= false;
  }
  memo.set(n, e as unknown as Effective);
  return e as unknown as Effective;
}

function diskIdBytes(id: string | undefined): number | null {
  if (id === undefined) return null;
  const hex = id.replace(/-/g, '');
  return /^[0-9a-fA-F]*$/.test(hex) && hex.length % 2 === 0 ? hex.length / 2 : null;
}

function diskScope(n: DiskNode, memo: Map<DiskNode, Effective>): Scope {
  const kind = kindOf(n);
  const members = membersOf(n);
  const writes = writeTargets(n);
  const eff = effectiveOf(n, memo);
  const mEff = members.map((m) => effectiveOf(m, memo));
  const wEff = writes.map((m) => effectiveOf(m, memo));
  const field = (f: Value): keyof Effective => String(f) as keyof Effective;
  const listed: Scope = {};
  for (const f of FIELDS) listed[f] = mEff.map((m) => (m[f] === null ? '?' : String(m[f]))).join(', ');
  const nums = (f: Value): number[] => mEff.map((m) => m[field(f)]).filter((v): v is number => typeof v === 'number');
  const scope: Scope = {
    kind,
    composite: kind !== 'leaf',
    members: members.length,
    chunk_sectors: n.stripes?.chunk_sectors ?? null,
    disk_id_bytes: diskIdBytes(n.disk_id),
    eff: { ...eff },
    derived: { ...derive(n, (m) => effectiveOf(m, memo)) },
    top: mEff[0] ? { ...mEff[0] } : null,
    listed,
    members_all: (f, v) => mEff.length > 0 && mEff.every((m) => m[field(f)] === v),
    members_any: (f, v) => mEff.some((m) => m[field(f)] === v),
    members_same: (f) => mEff.length > 0 && mEff.every((m) => m[field(f)] !== null && m[field(f)] === mEff[0]![field(f)]),
    members_min: (f) => (nums(f).length ? Math.min(...nums(f)) : null),
    members_max: (f) => (nums(f).length ? Math.max(...nums(f)) : null),
    writes_all: (f, v) => wEff.length > 0 && wEff.every((m) => m[field(f)] === v),
    writes_any: (f, v) => wEff.some((m) => m[field(f)] === v),
  };
  for (const k of ['type', 'name', 'disk_id', 'optimal_unmap_sectors', ...FIELDS] as const) scope[k] = (n as Record<string, Value>)[k] ?? null;
  return scope;
}

/** The YAML node at a path, or the closest ancestor that exists (for a key that is missing). */
function nodeAt(doc: Document.Parsed, segs: (string | number)[]): Node | null {
  let node: unknown = doc.contents;
  let keyNode: Node | null = null;
  for (const seg of segs) {
    if (yamlLib().isMap(node)) {
      const pair = node.items.find((it) => yamlLib().isPair(it) && yamlLib().isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) return keyNode ?? (node as Node);
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (yamlLib().isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) return node as Node;
      keyNode = null;
      node = item;
    } else break;
  }
  return (node as Node | null) ?? keyNode;
}

function locate(file: string, doc: Document.Parsed, lc: LineCounter, segs: (string | number)[]): { file: string; line: number; col: number } {
  const n = nodeAt(doc, segs);
  const p = lc.linePos(n?.range?.[0] ?? 0);
  return { file, line: p.line, col: p.col };
}

function evaluate(
  checks: DescriptorCheck[],
  scope: Scope,
  at: (key?: string) => { file: string; line: number; col: number },
  out: DiskProblem[],
): number {
  let n = 0;
  for (const c of checks) {
    if (c.whenFn && !truthy(c.whenFn(scope))) continue;
    n++;
    if (truthy(c.thatFn(scope))) continue;
    out.push({ ...at(c.at), severity: c.severity, check: c.id, message: renderMessage(c.message, scope), section: c.section });
  }
  return n;
}

/** Validates one disk description or namespace list against the contract. Never throws for a bad file. */
export function validateDiskText(file: string, text: string, contract: DiskContract = loadDiskContract()): DiskValidation {
  const { problems, spec } = checkSpecText<Record<string, unknown>>(file, text);
  const out: DiskValidation = { file, wellFormed: false, problems: [], evaluated: 0, namespaces: [] };
  if (problems.length || !spec) {
    out.problems = problems.map((p) => ({ ...p, severity: 'error', check: 'schema' }));
    return out;
  }
  out.kind = spec.kind;
  if (spec.kind !== 'disk' && spec.kind !== 'disk-namespaces') {
    const p = locate(file, spec.doc, spec.lineCounter, ['kind']);
    out.problems.push({ ...p, severity: 'error', check: 'schema', message: `expected a disk description (kind: disk) or a namespace list (kind: disk-namespaces), found kind '${spec.kind}'` });
    return out;
  }
  out.wellFormed = true;
  const { doc, lineCounter } = spec;
  const diskChecks = contract.checks.filter((c) => c.applies_to === 'disk');
  const nsChecks = contract.checks.filter((c) => c.applies_to === 'namespace');
  if (spec.kind === 'disk') {
    const data = spec.data as { nsid?: number; disk: DiskNode };
    const memo = new Map<DiskNode, Effective>();
    const walk = (n: DiskNode, segs: (string | number)[]): void => {
      const scope = diskScope(n, memo);
      out.evaluated += evaluate(diskChecks, scope, (key) => locate(file, doc, lineCounter, key ? [...segs, ...key.split('.')] : segs), out.problems);
      n.layers?.forEach((m, i) => walk(m, [...segs, 'layers', i]));
      n.stripes?.members.forEach((m, i) => walk(m, [...segs, 'stripes', 'members', i]));
      if (n.inner) walk(n.inner, [...segs, 'inner']);
    };
    walk(data.disk, ['disk']);
    const eff = effectiveOf(data.disk, memo);
    if (eff.logical_sector_size !== null) {
      out.namespaces.push({
        nsid: data.nsid ?? 1,
        lba_size: eff.logical_sector_size,
        ...(eff.sector_count !== null ? { blocks: eff.sector_count } : {}),
        ...(eff.read_only !== null ? { read_only: eff.read_only } : {}),
        ...(eff.unmap !== null ? { unmap: eff.unmap } : {}),
      });
    }
  } else {
    const data = spec.data as { namespaces: { nsid: number; lba_size: number; blocks?: number; read_only?: boolean; unmap?: UnmapBehaviour }[] };
    const seen = new Set<number>();
    data.namespaces.forEach((ns, i) => {
      const scope: Scope = { nsid: ns.nsid, lba_size: ns.lba_size, blocks: ns.blocks ?? null, read_only: ns.read_only ?? null, unmap: ns.unmap ?? null, duplicate: seen.has(ns.nsid) };
      seen.add(ns.nsid);
      out.evaluated += evaluate(nsChecks, scope, (key) => locate(file, doc, lineCounter, key ? ['namespaces', i, ...key.split('.')] : ['namespaces', i]), out.problems);
      out.namespaces.push({ ...ns });
    });
  }
  out.problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return out;
}

export function validateDiskFile(file: string, contract?: DiskContract): DiskValidation {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code ?? err)}`);
  }
  return validateDiskText(file, text, contract);
}

/**
 * The namespaces of a `--namespace FILE` (kind disk-namespaces, or kind disk for the one namespace it backs),
 * validated against the contract: any error is a UserError with every located problem (exit 2).
 */
export function loadNamespaceFile(file: string): DeclaredNamespace[] {
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such namespace file (--namespace takes a YAML file of kind disk-namespaces or disk)`);
  const v = validateDiskFile(file);
  const errors = v.problems.filter((p) => p.severity === 'error');
  if (errors.length) {
    throw new UserError(
      `${file}: invalid namespace description (${errors.length} problem${errors.length === 1 ? '' : 's'}; see nvmeproof disk validate)`,
      errors.map((p) => ({ file: p.file, line: p.line, col: p.col, message: p.check === 'schema' ? p.message : `${p.check}: ${p.message}` })),
    );
  }
  const source = `--namespace ${path.basename(file)}`;
  return v.namespaces.map((n) => ({ ...n, source }));
}

/** The shape's namespaces with those of a namespace file laid over them (by nsid). */
export function mergeNamespaces<T extends { nsid: number }>(base: readonly T[] | undefined, over: readonly T[]): T[] {
  const out = new Map<number, T>();
  for (const n of base ?? []) out.set(n.nsid, n);
  for (const n of over) out.set(n.nsid, n);
  return [...out.values()];
}
