import { loadSpecFile, nodeAtPath } from '../specs/load.js';
import { UserError, type Located } from '../util/errors.js';
import { specPath } from '../util/paths.js';
import { compileCondition, ConditionError, type Condition } from './condition.js';
import type { SurfaceTables } from './probe.js';

/** specs/dma/classification.yaml, loaded once, every condition compiled and checked against the declared facts. */

export interface Step {
  id: string;
  effect: 'note' | 'select';
  select?: string;
  forced?: boolean;
  when: Condition;
  statement: string;
  because?: string;
  source: string;
}

export interface ClassificationSpec {
  file: string;
  source: string;
  facts: Record<string, { type: string; values?: string[]; meaning: string; observed_by: string }>;
  surfaces: SurfaceTables;
  derived: { fact: string; cases: { value: string | boolean | number; when: Condition }[] }[];
  contradictions: { id: string; when: Condition; detail: string }[];
  claims: Record<string, string | null>;
  steps: Step[];
}

interface Raw {
  source: string;
  facts: ClassificationSpec['facts'];
  surfaces: SurfaceTables;
  derived?: { fact: string; cases: { value: string | boolean | number; when: string }[] }[];
  contradictions?: { id: string; when: string; detail: string }[];
  claims?: Record<string, string | null>;
  steps: { id: string; effect: 'note' | 'select'; select?: string; forced?: boolean; when: string; statement: string; because?: string; source: string }[];
}

const nodeAt = nodeAtPath;

let cached: ClassificationSpec | undefined;

export function loadClassificationSpec(file = specPath('dma', 'classification.yaml'), backends?: string[]): ClassificationSpec {
  if (cached && cached.file === file) return cached;
  const spec = loadSpecFile<Raw>(file, 'dma-classification');
  const d = spec.data;
  const problems: Located[] = [];
  const declared = new Set(Object.keys(d.facts));
  const compile = (src: string, path: (string | number)[]): Condition => {
    const node = nodeAt(spec, path);
    const off = node?.range?.[0] ?? 0;
    try {
      const c = compileCondition(src);
      for (const f of c.facts) {
        if (!declared.has(f)) {
          const p = spec.lineCounter.linePos(off);
          problems.push({ file, line: p.line, col: p.col, message: `condition names fact '${f}', which is not declared under facts:` });
        }
      }
      return c;
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      // Block scalars start after the indicator line; plain scalars at the node itself.
      const p = spec.lineCounter.linePos(off);
      problems.push({ file, line: p.line, col: p.col, message: `${err.message}: ${JSON.stringify(src)}` });
      return Object.assign(() => false, { source: src, facts: [] as string[] });
    }
  };
  const derived = (d.derived ?? []).map((x, i) => ({ fact: x.fact, cases: x.cases.map((c, j) => ({ value: c.value, when: compile(c.when, ['derived', i, 'cases', j, 'when']) })) }));
  const contradictions = (d.contradictions ?? []).map((x, i) => ({ id: x.id, detail: x.detail, when: compile(x.when, ['contradictions', i, 'when']) }));
  const steps: Step[] = d.steps.map((s, i) => ({ ...s, when: compile(s.when, ['steps', i, 'when']) }));
  if (backends) {
    steps.forEach((s, i) => {
      if (s.select && !backends.includes(s.select)) {
        const p = spec.lineCounter.linePos(nodeAt(spec, ['steps', i, 'select'])?.range?.[0] ?? 0);
        problems.push({ file, line: p.line, col: p.col, message: `step ${s.id} selects '${s.select}', not a backend of specs/dma/backend-policy.yaml (${backends.join(', ')})` });
      }
    });
    for (const [claim, b] of Object.entries(d.claims ?? {})) {
      if (b !== null && !backends.includes(b)) problems.push({ file, line: 1, col: 1, message: `claims: '${claim}' maps to unknown backend '${b}'` });
    }
  }
  const last = steps[steps.length - 1];
  if (!last || last.effect !== 'select' || last.when.source.trim() !== 'true') {
    problems.push({ file, line: 1, col: 1, message: 'the last step must be a select step with `when: "true"` (the fail-closed default)' });
  }
  if (problems.length) throw new UserError(`invalid DMA classification spec (${problems.length} problem(s))`, problems);
  cached = { file, source: d.source, facts: d.facts, surfaces: d.surfaces, derived, contradictions, claims: d.claims ?? {}, steps };
  return cached;
}
