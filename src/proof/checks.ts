import path from 'node:path';
import type { SourceRef } from '../findings/finding.js';
import type { FieldSpec, ProofCatalog, ProofKind, ProofRule, Shape } from './catalog.js';
import type { Verdict } from './checks-registry.js';
import { canonical, invalidReason, sameValue } from './values.js';
import { PACKAGE_ROOT } from '../util/paths.js';

/**
 * Implementations of the proof-line check kinds declared in checks-registry.ts. A check looks at one proof line
 * (and, for cross-line kinds, the other proof lines of the same boot) and returns per-key results: failures
 * become findings and table verdicts; passes feed the table's reasons and the `exercised` list.
 */

export interface KeyVal {
  key: string;
  value: string;
  col: number;
  valueCol: number;
}

export interface LineRec {
  kind: ProofKind;
  lineNo: number;
  raw: string;
  col: number;
  boot: number;
  fields: KeyVal[];
  first: Map<string, KeyVal>;
  /** The shape the line names: a Shape, null when named but unknown, undefined when the kind names none / key absent. */
  shape: Shape | null | undefined;
  /** Keys the line may carry (fixed keys plus those derived from its shape). */
  specs: Map<string, FieldSpec>;
  /** false when shape-derived keys could not be resolved (unknown shape). */
  specsComplete: boolean;
  malformed?: { col: number; expected: string; found: string; message: string };
}

export interface BootRec {
  boot: number;
  startLine: number;
  startReason: string;
  lines: LineRec[];
}

export interface CheckResult {
  field: string;
  ok: boolean;
  verdict?: Verdict;
  bindings: Record<string, string>;
  related?: SourceRef[];
  col?: number;
}

export interface CheckCtx {
  cat: ProofCatalog;
  file: string;
  boot: BootRec;
  /** Single-line mode (`nvmeproof proof-line`): cross-line presence checks cannot be decided. */
  isolated: boolean;
}

export type CheckFn = (rule: ProofRule, line: LineRec, ctx: CheckCtx) => CheckResult[] | 'skip';

type Matcher = Record<string, string[]>;

export function relFile(file: string): string {
  const r = path.relative(PACKAGE_ROOT, file);
  return r.startsWith('..') ? file : r;
}

/** Walks a dotted path into a shape's classification; `precursor.` walks into its local precursor (or itself). */
export function shapePath(cat: ProofCatalog, shape: Shape, p: string): unknown {
  let target = shape;
  let rest = p;
  if (p.startsWith('precursor.')) {
    const pre = shape.classification.local_precursor;
    target = (pre !== undefined ? cat.shapes.get(pre) : undefined) ?? shape;
    rest = p.slice('precursor.'.length);
  }
  let node: unknown = target.classification;
  for (const seg of rest.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

function shapeString(cat: ProofCatalog, shape: Shape, p: string): string | undefined {
  const v = shapePath(cat, shape, p);
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** `{production_id.vendor_field}` -> `aws_nitro_ebs_vendor`; a plain key stays as it is. */
export function resolveKeyName(cat: ProofCatalog, shape: Shape | null | undefined, key: string): string | undefined {
  const m = /^\{([a-z_.]+)\}$/.exec(key);
  if (!m) return key;
  if (!shape) return undefined;
  return shapeString(cat, shape, m[1]!);
}

/** Every key a line of this kind naming this shape may carry, with its spec. */
export function resolveSpecs(cat: ProofCatalog, kind: ProofKind, shape: Shape | null | undefined): { specs: Map<string, FieldSpec>; complete: boolean } {
  const specs = new Map(kind.fields);
  let complete = true;
  for (const sf of kind.shapeFields) {
    if (!shape) {
      complete = false;
      continue;
    }
    const { name, keysOf, ...rest } = sf;
    if (name !== undefined) {
      const key = resolveKeyName(cat, shape, name);
      if (key) specs.set(key, { key, ...rest });
    } else if (keysOf !== undefined) {
      const map = shapePath(cat, shape, keysOf);
      if (map && typeof map === 'object') for (const key of Object.keys(map)) specs.set(key, { key, ...rest });
    }
  }
  return { specs, complete };
}

export function lookupShape(cat: ProofCatalog, kind: ProofKind, first: Map<string, KeyVal>): Shape | null | undefined {
  if (!kind.shape) return undefined;
  const kv = first.get(kind.shape.field);
  if (!kv) return undefined;
  if (kind.shape.by === 'id') return cat.shapes.get(kv.value) ?? null;
  for (const s of cat.shapes.values()) if (s.classification.live_cloud === kv.value) return s;
  return null;
}

function matches(line: LineRec, m: Matcher | undefined): boolean {
  if (!m) return true;
  for (const [k, values] of Object.entries(m)) {
    const kv = line.first.get(k);
    if (!kv) return false;
    const spec = line.specs.get(k);
    if (!values.some((v) => sameValue(spec, kv.value, v))) return false;
  }
  return true;
}

/** `only_if` not met: the rule's precondition did not occur. `unless` met: it did, and the exception applies. */
function guard(rule: ProofRule, line: LineRec): 'skip' | 'exempt' | 'go' {
  const o = rule.options as { only_if?: Matcher; unless?: Matcher };
  if (o.only_if && !matches(line, o.only_if)) return 'skip';
  if (o.unless && matches(line, o.unless)) return 'exempt';
  return 'go';
}

/** A value that does not even fit its type is reported by the value rule, not compared by others. */
function usable(line: LineRec, key: string): KeyVal | undefined {
  const kv = line.first.get(key);
  if (!kv) return undefined;
  const spec = line.specs.get(key);
  if (spec && invalidReason(spec, kv.value) !== undefined) return undefined;
  return kv;
}

function ref(file: string, l: LineRec, note: string): SourceRef {
  return { file, line: l.lineNo, raw: l.raw, note };
}

function verdictOf(rule: ProofRule, dflt: Verdict): Verdict {
  return (rule.options.verdict as Verdict | undefined) ?? dflt;
}

const syntax: CheckFn = (_rule, line) => {
  if (!line.malformed) return [];
  return [{ field: '(syntax)', ok: false, verdict: 'wrong', col: line.malformed.col, bindings: { col: String(line.malformed.col), expected: line.malformed.expected, found: line.malformed.found } }];
};

const duplicateKeys: CheckFn = (_rule, line) => {
  const out: CheckResult[] = [];
  const seen = new Map<string, KeyVal>();
  for (const kv of line.fields) {
    const prev = seen.get(kv.key);
    if (prev) out.push({ field: kv.key, ok: false, verdict: 'wrong', col: kv.col, bindings: { field: kv.key, value: prev.value, other_value: kv.value } });
    else seen.set(kv.key, kv);
  }
  return out;
};

const unknownKeys: CheckFn = (_rule, line, ctx) => {
  const out: CheckResult[] = [];
  const shapeNote = line.shape ? ` (shape ${line.shape.id})` : '';
  for (const kv of line.first.values()) {
    if (line.specs.has(kv.key)) continue;
    // With an unknown shape the shape-derived keys are unknown too; only report keys no shape could define.
    if (!line.specsComplete && mayBeShapeKey(ctx.cat, line.kind, kv.key)) continue;
    out.push({ field: kv.key, ok: false, verdict: 'unknown-key', col: kv.col, bindings: { field: kv.key, value: kv.value, shape_note: shapeNote } });
  }
  return out;
};

function mayBeShapeKey(cat: ProofCatalog, kind: ProofKind, key: string): boolean {
  for (const s of cat.shapes.values()) if (resolveSpecs(cat, kind, s).specs.has(key)) return true;
  return false;
}

const fieldRequired: CheckFn = (rule, line) => {
  if (line.malformed) return 'skip';
  const out: CheckResult[] = [];
  for (const spec of line.specs.values()) {
    if (!spec.required) continue;
    if (spec.checkedBy !== undefined && spec.checkedBy !== rule.meta.id) continue;
    const present = line.first.has(spec.key);
    out.push(present ? { field: spec.key, ok: true, bindings: {} } : { field: spec.key, ok: false, verdict: 'missing', bindings: { field: spec.key, meaning: spec.meaning } });
  }
  return out;
};

const fieldIn: CheckFn = (_rule, line) => {
  const out: CheckResult[] = [];
  for (const kv of line.first.values()) {
    const spec = line.specs.get(kv.key);
    if (!spec) continue;
    const why = invalidReason(spec, kv.value);
    out.push(why === undefined ? { field: kv.key, ok: true, bindings: {} } : { field: kv.key, ok: false, verdict: 'wrong', col: kv.valueCol, bindings: { field: kv.key, value: kv.value, expected: why } });
  }
  return out;
};

const fieldEquals: CheckFn = (rule, line) => {
  const g = guard(rule, line);
  if (g !== 'go') return g === 'skip' ? 'skip' : [];
  const out: CheckResult[] = [];
  for (const [key, expected] of Object.entries(rule.options.fields as Record<string, string>)) {
    const kv = usable(line, key);
    if (!kv) continue;
    const ok = sameValue(line.specs.get(key), kv.value, expected);
    out.push(ok ? { field: key, ok, bindings: {} } : { field: key, ok, verdict: verdictOf(rule, 'wrong'), col: kv.valueCol, bindings: { field: key, value: kv.value, expected } });
  }
  return out;
};

const fieldImplies: CheckFn = (rule, line) => {
  const o = rule.options as { implications: { if: Matcher; then: Matcher }[]; report_on?: string };
  const out: CheckResult[] = [];
  let exercised = false;
  for (const imp of o.implications) {
    if (!matches(line, imp.if)) continue;
    const [thenKey, thenValues] = Object.entries(imp.then)[0]!;
    const thenKv = usable(line, thenKey);
    if (!thenKv) continue;
    exercised = true;
    const ifKey = Object.keys(imp.if)[0]!;
    const ifKv = line.first.get(ifKey)!;
    const reportKey = o.report_on ?? thenKey;
    const reportKv = line.first.get(reportKey) ?? thenKv;
    const ok = thenValues.some((v) => sameValue(line.specs.get(thenKey), thenKv.value, v));
    out.push(
      ok
        ? { field: reportKey, ok, bindings: {} }
        : {
            field: reportKey,
            ok,
            verdict: verdictOf(rule, 'wrong'),
            col: reportKv.valueCol,
            bindings: {
              field: reportKey,
              value: reportKv.value,
              expected: thenValues.join(' or '),
              if_field: ifKey,
              if_value: canonical(line.specs.get(ifKey), ifKv.value),
              then_field: thenKey,
              then_value: thenKv.value,
            },
          },
    );
  }
  return exercised ? out : 'skip';
};

const shapeKnown: CheckFn = (_rule, line, ctx) => {
  if (!line.kind.shape) return 'skip';
  const kv = line.first.get(line.kind.shape.field);
  if (!kv) return 'skip';
  const by = line.kind.shape.by;
  const known = [...ctx.cat.shapes.values()].map((s) => (by === 'id' ? s.id : s.classification.live_cloud)).filter((x): x is string => !!x);
  return line.shape
    ? [{ field: kv.key, ok: true, bindings: {} }]
    : [{ field: kv.key, ok: false, verdict: 'wrong', col: kv.valueCol, bindings: { field: kv.key, value: kv.value, known: known.join(', ') } }];
};

interface Pair {
  key: string;
  expected: string;
}

function pairsFor(rule: ProofRule, cat: ProofCatalog, shape: Shape): Pair[] {
  const o = rule.options as { fields?: Record<string, string>; map?: string };
  const out: Pair[] = [];
  if (o.fields) {
    for (const [k, p] of Object.entries(o.fields)) {
      const key = resolveKeyName(cat, shape, k);
      const expected = shapeString(cat, shape, p);
      if (key !== undefined && expected !== undefined) out.push({ key, expected });
    }
  }
  if (o.map) {
    const m = shapePath(cat, shape, o.map);
    if (m && typeof m === 'object') for (const [k, v] of Object.entries(m as Record<string, unknown>)) out.push({ key: k, expected: String(v) });
  }
  return out;
}

const shapeAgreement: CheckFn = (rule, line, ctx) => {
  const o = rule.options as { relation: 'equals' | 'differs'; missing?: 'report' | 'skip'; if_shape?: string; via?: string };
  const g = guard(rule, line);
  if (g === 'skip') return 'skip';
  // The shapes to agree with: the line's own, or those named by same-boot lines of `via`.
  const sources: { shape: Shape; from?: LineRec }[] = [];
  if (o.via) {
    for (const other of ctx.boot.lines) if (other.kind.id === o.via && other.shape) sources.push({ shape: other.shape, from: other });
  } else if (line.shape) sources.push({ shape: line.shape });
  const usableSources = sources.filter((s) => o.if_shape === undefined || shapePath(ctx.cat, s.shape, o.if_shape) !== undefined);
  if (!usableSources.length) return 'skip';
  if (g === 'exempt') return [];

  const byKey = new Map<string, CheckResult>();
  for (const { shape, from } of usableSources) {
    for (const { key, expected } of pairsFor(rule, ctx.cat, shape)) {
      const kv = line.first.get(key);
      const prev = byKey.get(key);
      if (!kv) {
        if (o.missing === 'report' && !prev) {
          byKey.set(key, { field: key, ok: false, verdict: 'missing', bindings: { field: key, value: '', expected, shape: shape.id, shape_file: relFile(shape.file), problem: 'is missing', precursor: precursorId(shape) } });
        }
        continue;
      }
      if (!usable(line, key) && o.missing !== 'report') continue;
      const same = sameValue(line.specs.get(key), kv.value, expected);
      const ok = o.relation === 'equals' ? same : !same;
      if (ok) {
        if (!prev) byKey.set(key, { field: key, ok: true, bindings: {} });
        continue;
      }
      const related = from ? [ref(ctx.file, from, `${from.kind.prefix} cloud_shape=${shape.id}`)] : undefined;
      if (prev && !prev.ok) {
        // Several classification lines disagree: one finding, every line related.
        if (related) prev.related = [...(prev.related ?? []), ...related];
        if (from) {
          prev.bindings.shape = `${prev.bindings.shape}, ${shape.id}`;
          prev.bindings.related_line = `${prev.bindings.related_line}, ${from.lineNo}`;
        }
        continue;
      }
      byKey.set(key, {
        field: key,
        ok: false,
        verdict: verdictOf(rule, o.relation === 'differs' ? 'over-claims' : 'wrong'),
        col: kv.valueCol,
        related,
        bindings: {
          field: key,
          value: kv.value,
          expected,
          shape: shape.id,
          shape_file: relFile(shape.file),
          related_line: from ? String(from.lineNo) : '',
          problem: `is \`${kv.value}\``,
          precursor: precursorId(shape),
        },
      });
    }
  }
  return [...byKey.values()];
};

function precursorId(shape: Shape): string {
  return shape.classification.local_precursor ?? shape.id;
}

const crossLineSameBoot: CheckFn = (rule, line, ctx) => {
  const o = rule.options as { requires: string; field: string };
  if (ctx.isolated || line.malformed) return 'skip';
  const other = ctx.cat.kinds.get(o.requires)!;
  const found = ctx.boot.lines.find((l) => l.kind.id === o.requires && !l.malformed);
  if (found) return [{ field: o.field, ok: true, bindings: {}, related: [ref(ctx.file, found, 'same boot')] }];
  return [
    {
      field: o.field,
      ok: false,
      verdict: verdictOf(rule, 'missing'),
      col: line.first.get(o.field)?.col,
      bindings: { other_kind: other.id, other_prefix: other.prefix, boot: String(ctx.boot.boot), boot_start: String(ctx.boot.startLine) },
    },
  ];
};

const backendPolicy: CheckFn = (rule, line, ctx) => {
  const o = rule.options as { backend_field: string; observation_field: string; policy_via?: string; policy_field?: string; default_policy: string };
  const b = usable(line, o.backend_field);
  const obs = usable(line, o.observation_field);
  if (!b || !obs) return 'skip';
  const policies = new Map<string, LineRec | undefined>();
  if (o.policy_via && o.policy_field) {
    for (const other of ctx.boot.lines) {
      if (other.kind.id !== o.policy_via) continue;
      const p = usable(other, o.policy_field);
      if (p && ctx.cat.policy.policies.has(p.value) && !policies.has(p.value)) policies.set(p.value, other);
    }
  }
  if (!policies.size) policies.set(o.default_policy, undefined);
  const backend = canonical(line.specs.get(o.backend_field), b.value);
  const observation = canonical(line.specs.get(o.observation_field), obs.value);
  const out: CheckResult[] = [];
  for (const [pid, from] of policies) {
    const policy = ctx.cat.policy.policies.get(pid);
    if (!policy) continue;
    const allowed = policy.select[observation] ?? [];
    if (allowed.includes(backend)) out.push({ field: o.backend_field, ok: true, bindings: {} });
    else
      out.push({
        field: o.backend_field,
        ok: false,
        verdict: verdictOf(rule, 'wrong'),
        col: b.valueCol,
        related: from ? [ref(ctx.file, from, `labels dma_backend_policy=${pid}`)] : undefined,
        bindings: { field: o.backend_field, value: b.value, observation, policy: pid, expected: allowed.length ? allowed.join(' or ') : 'nothing (no branch for this observation)' },
      });
  }
  return out.length ? out : 'skip';
};

export const CHECKS: Record<string, CheckFn> = {
  syntax,
  'duplicate-keys': duplicateKeys,
  'unknown-keys': unknownKeys,
  'field-required': fieldRequired,
  'field-in': fieldIn,
  'field-equals': fieldEquals,
  'field-implies': fieldImplies,
  'shape-known': shapeKnown,
  'shape-agreement': shapeAgreement,
  'cross-line-same-boot': crossLineSameBoot,
  'backend-policy': backendPolicy,
};

/** Fills `{name}` placeholders; an unbound one is left visible rather than silently emptied. */
export function fillMessage(template: string, bindings: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (m, name: string) => (name in bindings ? bindings[name]! : m));
}
