import { ruleMeta, type RuleSpec } from '../rules/catalog.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import type { Node } from 'yaml';
import { createAjv, listSpecFiles, loadSpecFile, locateAjvErrors, type LoadedSpec, yamlLib } from '../specs/load.js';
import { UserError, type Located } from '../util/errors.js';
import { PACKAGE_ROOT, specPath } from '../util/paths.js';
import type { RuleMeta } from '../findings/finding.js';
import type { ValueSpec, ValueType } from './values.js';
import { CHECK_KINDS } from './checks-registry.js';

/**
 * Everything the proof-line checker knows, read from specs/: proof-line kinds (specs/proof-lines/), shapes with a
 * classification section (specs/shapes/ or --shape-dir), backends and policies (specs/dma/backend-policy.yaml),
 * and the rules of families `proof` and `dma` (specs/rules/proof-lines.yaml, specs/rules/dma-classification.yaml).
 * Each rule's `then` options are validated against its check kind's option schema, with file:line:col errors.
 */

export interface FieldSpec extends ValueSpec {
  key: string;
  required: boolean;
  checkedBy?: string;
  meaning: string;
  source: string;
}

export interface ShapeFieldSpec extends ValueSpec {
  name?: string; // "{production_id.vendor_field}"
  keysOf?: string; // "scope_flags"
  required: boolean;
  checkedBy?: string;
  meaning: string;
  source: string;
}

export interface ProofKind {
  id: string;
  prefix: string;
  title: string;
  source: string;
  description: string;
  file: string;
  shape?: { field: string; by: 'id' | 'live_cloud' };
  fields: Map<string, FieldSpec>;
  shapeFields: ShapeFieldSpec[];
  crossField: { rule: string; statement: string }[];
  example: string;
}

export interface Classification {
  provider: string;
  storage_surface: string;
  pci_class: { class: string; subclass: string; prog_if: string };
  production_id: { vendor: string; device?: string; vendor_field: string; note?: string };
  local_precursor?: string;
  live_cloud?: string;
  older_transport: null | { name: string; in_scope: boolean; scope_flag: string; reason: string; families?: string };
  nic: null | { name: string; driver: string; in_scope: boolean; scope_flag: string; reason?: string };
  dma: { labeled_backend: string; labeled_field: string; policy: string; note?: string };
  scope_flags: Record<string, string>;
  sources: string[];
}

export interface Shape {
  id: string;
  title: string;
  file: string;
  classification: Classification;
}

export interface Backend {
  id: string;
  strength: number;
  label: string;
  aliases: string[];
  meaning: string;
  source: string;
}

export interface Policy {
  id: string;
  statement: string;
  source: string;
  select: Record<string, string[]>;
}

export interface PolicySpec {
  file: string;
  backends: Backend[];
  observations: Record<string, string>;
  policies: Map<string, Policy>;
}

export interface ProofRule {
  meta: RuleMeta;
  /** Kinds the rule applies to (`proof:*` -> every kind). */
  kinds: Set<string> | '*';
  /** For evidence rules: `evidence:row`. */
  given: string;
  check: string;
  options: Record<string, unknown>;
  file: string;
  line: number;
}

export interface ProofCatalog {
  kinds: Map<string, ProofKind>;
  byPrefix: Map<string, ProofKind>;
  shapes: Map<string, Shape>;
  shapeDir: string;
  policy: PolicySpec;
  /** Rules applying to proof lines, in catalog order. */
  rules: ProofRule[];
  /** Rules applying to evidence rows. */
  evidenceRules: ProofRule[];
  byId: Map<string, ProofRule>;
}

export const PROOF_RULE_FILES = ['proof-lines.yaml', 'dma-classification.yaml'];

interface RawField {
  name?: string;
  keys_of?: string;
  required: boolean;
  checked_by?: string;
  type: ValueType;
  values?: string[];
  aliases?: Record<string, string>;
  pattern?: string;
  meaning: string;
  source: string;
}

function rel(file: string): string {
  return path.relative(PACKAGE_ROOT, file) || file;
}

function valueSpec(f: RawField, file: string, where: string): ValueSpec {
  let pattern: RegExp | undefined;
  if (f.pattern !== undefined) {
    try {
      pattern = new RegExp(f.pattern.startsWith('^') ? f.pattern : `^(?:${f.pattern})$`);
    } catch (err) {
      throw new UserError(`${file}: ${where}: invalid pattern: ${(err as Error).message}`);
    }
  }
  return { type: f.type, values: f.values, aliases: f.aliases, pattern };
}

export function loadProofKinds(dir = specPath('proof-lines')): Map<string, ProofKind> {
  const kinds = new Map<string, ProofKind>();
  for (const file of listSpecFiles(dir)) {
    const spec = loadSpecFile<{
      id: string;
      prefix: string;
      title: string;
      source: string;
      description: string;
      shape?: { field: string; by: 'id' | 'live_cloud' };
      fields: Record<string, RawField>;
      shape_fields?: RawField[];
      cross_field?: { rule: string; statement: string }[];
      example: string;
    }>(file, 'proof-line');
    const d = spec.data;
    const fields = new Map<string, FieldSpec>();
    for (const [key, f] of Object.entries(d.fields)) {
      fields.set(key, { key, required: f.required, checkedBy: f.checked_by, meaning: f.meaning, source: f.source, ...valueSpec(f, file, key) });
    }
    const shapeFields = (d.shape_fields ?? []).map((f, i) => ({
      name: f.name,
      keysOf: f.keys_of,
      required: f.required,
      checkedBy: f.checked_by,
      meaning: f.meaning,
      source: f.source,
      ...valueSpec(f, file, `shape_fields[${i}]`),
    }));
    if (kinds.has(d.id)) throw new UserError(`${file}: duplicate proof-line kind '${d.id}'`);
    kinds.set(d.id, {
      id: d.id,
      prefix: d.prefix,
      title: d.title,
      source: d.source,
      description: d.description,
      file,
      shape: d.shape,
      fields,
      shapeFields,
      crossField: d.cross_field ?? [],
      example: d.example,
    });
  }
  return kinds;
}

/** Shapes that carry a classification section (shapes without one are wire-model shapes only). */
export function loadClassifiedShapes(dir = specPath('shapes')): Map<string, Shape> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`${dir}: no such shape directory`);
  const shapes = new Map<string, Shape>();
  const problems: Located[] = [];
  for (const file of listSpecFiles(dir)) {
    const spec = loadSpecFile<{ id: string; title: string; classification?: Classification }>(file, 'shape');
    const c = spec.data.classification;
    if (!c) continue;
    const at = (p: string[]): Located => {
      let node: unknown = spec.doc.contents;
      for (const seg of p) node = yamlLib().isMap(node) ? (node.get(seg, true) as unknown) : undefined;
      const off = (node as Node | undefined)?.range?.[0] ?? 0;
      const lp = spec.lineCounter.linePos(off);
      return { file, line: lp.line, col: lp.col, message: '' };
    };
    // The NIC and older-transport flags must be among the scope flags the line carries.
    for (const part of ['nic', 'older_transport'] as const) {
      const v = c[part];
      if (v && !(v.scope_flag in c.scope_flags)) {
        problems.push({ ...at(['classification', part, 'scope_flag']), message: `${part}.scope_flag '${v.scope_flag}' is not a key of classification.scope_flags` });
      }
    }
    if (shapes.has(spec.data.id)) problems.push({ ...at(['id']), message: `duplicate shape id '${spec.data.id}'` });
    shapes.set(spec.data.id, { id: spec.data.id, title: spec.data.title, file, classification: c });
  }
  for (const s of shapes.values()) {
    const p = s.classification.local_precursor;
    if (p !== undefined && !shapes.has(p)) {
      problems.push({ file: s.file, line: 1, col: 1, message: `classification.local_precursor '${p}' is not a shape with a classification section in ${dir}` });
    }
  }
  if (problems.length) throw new UserError(`invalid shape specs (${problems.length} problem(s))`, problems);
  return shapes;
}

export function loadPolicy(file = specPath('dma', 'backend-policy.yaml')): PolicySpec {
  const spec = loadSpecFile<{ backends: Backend[]; observations: Record<string, string>; policies: Policy[] }>(file, 'dma-policy');
  const policies = new Map<string, Policy>();
  for (const p of spec.data.policies) policies.set(p.id, p);
  const ids = new Set(spec.data.backends.map((b) => b.id));
  for (const p of spec.data.policies) {
    for (const [obs, list] of Object.entries(p.select)) {
      if (!(obs in spec.data.observations)) throw new UserError(`${file}: policy ${p.id}: unknown observation '${obs}'`);
      for (const b of list) if (!ids.has(b)) throw new UserError(`${file}: policy ${p.id}: unknown backend '${b}'`);
    }
  }
  return { file, backends: spec.data.backends.map((b) => ({ ...b, aliases: b.aliases ?? [] })), observations: spec.data.observations, policies };
}

type RawRule = RuleSpec;

let optionAjv: Ajv2020 | undefined;
const optionValidators = new Map<string, ValidateFunction>();

function optionValidator(check: string): ValidateFunction | undefined {
  const def = CHECK_KINDS[check];
  if (!def) return undefined;
  let v = optionValidators.get(check);
  if (!v) {
    optionAjv ??= createAjv({ allErrors: true, strict: false });
    v = optionAjv.compile({
      type: 'object',
      required: ['check', ...def.required],
      additionalProperties: false,
      properties: { check: { type: 'string' }, ...def.options },
    });
    optionValidators.set(check, v);
  }
  return v;
}

function ruleNodeLine(spec: LoadedSpec, i: number, key?: string): { line: number; col: number } {
  const rules = spec.doc.get('rules', true);
  let node: Node | undefined;
  if (yamlLib().isSeq(rules)) {
    const r = rules.items[i] as Node | undefined;
    node = r;
    if (key && yamlLib().isMap(r)) node = (r.get(key, true) as Node | undefined) ?? r;
  }
  return spec.lineCounter.linePos(node?.range?.[0] ?? 0);
}

export function loadProofRules(
  kinds: Map<string, ProofKind>,
  files = PROOF_RULE_FILES.map((f) => specPath('rules', f)),
): { rules: ProofRule[]; evidenceRules: ProofRule[] } {
  const rules: ProofRule[] = [];
  const evidenceRules: ProofRule[] = [];
  const problems: Located[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const spec = loadSpecFile<{ family: string; rules: RawRule[] }>(file, 'rules');
    spec.data.rules.forEach((r, i) => {
      const at = (key?: string): Located => ({ file, ...ruleNodeLine(spec, i, key), message: '' });
      if (seen.has(r.id)) {
        problems.push({ ...at('id'), message: `duplicate rule id '${r.id}'` });
        return;
      }
      seen.add(r.id);
      const def = CHECK_KINDS[r.then.check];
      const validate = optionValidator(r.then.check);
      if (!def || !validate) {
        problems.push({ ...at('then'), message: `${r.id}: unknown check kind '${r.then.check}' (known: ${Object.keys(CHECK_KINDS).join(', ')})` });
        return;
      }
      if (!validate(r.then)) {
        const errs = (validate.errors ?? []).map((e) => ({ ...e, instancePath: `/rules/${i}/then${e.instancePath}` }));
        for (const p of locateAjvErrors(file, spec.doc, spec.lineCounter, errs)) problems.push({ ...p, message: `${r.id}: ${p.message}` });
        return;
      }
      // Every {placeholder} of the message must be one the check kind binds.
      for (const m of r.message.matchAll(/\{([a-z_]+)\}/g)) {
        if (!def.placeholders.includes(m[1]!) && !COMMON_PLACEHOLDERS.includes(m[1]!)) {
          problems.push({ ...at('message'), message: `${r.id}: placeholder {${m[1]}} is not bound by check '${r.then.check}' (it binds: ${[...COMMON_PLACEHOLDERS, ...def.placeholders].join(', ')})` });
        }
      }
      const given = (r.given ?? '').trim();
      let ruleKinds: Set<string> | '*' = new Set();
      if (def.target === 'evidence') {
        if (given !== 'evidence:row') problems.push({ ...at('given'), message: `${r.id}: check '${r.then.check}' looks at evidence rows: given must be 'evidence:row'` });
      } else {
        for (const sel of given.split(',').map((s) => s.trim()).filter(Boolean)) {
          if (sel === 'proof:*') ruleKinds = '*';
          else if (sel.startsWith('proof:') && kinds.has(sel.slice(6))) {
            if (ruleKinds !== '*') ruleKinds.add(sel.slice(6));
          } else problems.push({ ...at('given'), message: `${r.id}: given '${sel}' is not proof:* or proof:<kind> of specs/proof-lines/ (${[...kinds.keys()].join(', ')})` });
        }
        if (ruleKinds !== '*' && ruleKinds.size === 0 && !problems.length) problems.push({ ...at('given'), message: `${r.id}: given must name proof-line kinds (proof:<kind>)` });
      }
      const opts = { ...r.then } as Record<string, unknown>;
      delete opts.check;
      for (const k of ['via', 'requires', 'policy_via']) {
        const v = opts[k];
        if (typeof v === 'string' && !kinds.has(v)) problems.push({ ...at('then'), message: `${r.id}: ${k} '${v}' is not a proof-line kind` });
      }
      const rule: ProofRule = {
        meta: ruleMeta(r, spec.data.family),
        kinds: ruleKinds,
        given,
        check: r.then.check,
        options: opts,
        file,
        line: at().line,
      };
      (def.target === 'evidence' ? evidenceRules : rules).push(rule);
    });
  }
  // Cross-field statements in the kind specs must name rules that exist and apply to that kind.
  const all = new Map([...rules, ...evidenceRules].map((r) => [r.meta.id, r]));
  for (const k of kinds.values()) {
    for (const c of k.crossField) {
      const r = all.get(c.rule);
      if (!r) problems.push({ file: k.file, line: 1, col: 1, message: `cross_field names rule '${c.rule}', which is not in ${files.map(rel).join(', ')}` });
      else if (r.kinds !== '*' && !r.kinds.has(k.id) && ![r.options.via, r.options.requires, r.options.policy_via].includes(k.id)) problems.push({ file: k.file, line: 1, col: 1, message: `cross_field names rule '${c.rule}', whose given does not include proof:${k.id} (nor does it look at this kind through via/requires/policy_via)` });
    }
  }
  if (problems.length) throw new UserError(`invalid proof-line rule catalog (${problems.length} problem(s))`, problems);
  return { rules, evidenceRules };
}

export const COMMON_PLACEHOLDERS = ['kind', 'prefix', 'line'];

const catalogs = new Map<string, ProofCatalog>();

/** The whole catalog, loaded once per shape directory. Throws UserError (located) when a spec is invalid. */
export function loadProofCatalog(opts: { shapeDir?: string } = {}): ProofCatalog {
  const shapeDir = path.resolve(opts.shapeDir ?? specPath('shapes'));
  const cached = catalogs.get(shapeDir);
  if (cached) return cached;
  const kinds = loadProofKinds();
  const byPrefix = new Map([...kinds.values()].map((k) => [k.prefix, k]));
  const shapes = loadClassifiedShapes(shapeDir);
  const policy = loadPolicy();
  const { rules, evidenceRules } = loadProofRules(kinds);
  const byId = new Map([...rules, ...evidenceRules].map((r) => [r.meta.id, r]));
  const cat: ProofCatalog = { kinds, byPrefix, shapes, shapeDir, policy, rules, evidenceRules, byId };
  catalogs.set(shapeDir, cat);
  return cat;
}
