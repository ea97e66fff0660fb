import fs from 'node:fs';
import path from 'node:path';
import type { Node } from 'yaml';
import { listSpecFiles, loadSpecFile, type LoadedSpec, yamlLib } from '../specs/load.js';
import { specPath } from '../util/paths.js';
import { parseExprsCached, ExprError, type Ast } from './expr.js';
import { UserError, type Located } from '../util/errors.js';
import type { RuleMeta } from '../findings/finding.js';
import { CHECK_KINDS } from './check-kinds.js';

/** The rule catalog: specs/rules/*.yaml (plus --rules DIR), schema-checked, expressions parsed once (the engine compiles them per hook). */

/** The metadata reports need, from a rule as written. */
export function ruleMeta(r: RuleSpec, family: string): RuleMeta {
  return { id: r.id, severity: r.severity, family, title: r.title, message: r.message, section: r.section, explanation: r.explanation, fix: r.fix, formats: r.formats };
}

/** A rule as written in YAML: the metadata reports show, plus what the engine evaluates. */
export interface RuleSpec extends Omit<RuleMeta, 'family'> {
  given?: string;
  when?: string;
  then: { check: string; [opt: string]: unknown };
  device_events?: string[];
  statuses?: number[];
  examples?: { conforming?: string; violating?: string };
}

export interface CompiledRule {
  meta: RuleMeta;
  spec: RuleSpec;
  given?: string;
  /**
   * `when` and the expressions among then's options (keys listed per check kind), as syntax trees (or
   * numbers): the engine compiles every rule of a hook into one function (rules/engine.ts).
   */
  asts: { when?: Ast; exprs: Record<string, Ast | number> };
  file: string;
  domain: string;
}

export interface Catalog {
  rules: CompiledRule[];
  byId: Map<string, CompiledRule>;
  byHook: Map<string, CompiledRule[]>;
  byDeviceEvent: Map<string, CompiledRule>;
  byStatus: Map<number, CompiledRule>;
}


function locateRuleKey(spec: LoadedSpec, index: number, key: string, sub?: string): { line: number; col: number } {
  const rules = spec.doc.get('rules', true);
  let node: Node | undefined;
  if (yamlLib().isSeq(rules)) {
    const r = rules.items[index];
    if (yamlLib().isMap(r)) {
      const v = r.get(key, true);
      node = (sub && yamlLib().isMap(v) ? (v.get(sub, true) as Node) : (v as Node)) ?? (r as Node);
    }
  }
  const off = node && node.range ? node.range[0] + (yamlLib().isScalar(node) && (node as { type?: string }).type !== 'PLAIN' ? 1 : 0) : 0;
  return spec.lineCounter.linePos(off);
}

export function loadCatalog(extraDirs: string[] = [], opts: { families?: string[] } = {}): Catalog {
  const files = listSpecFiles(specPath('rules'));
  for (const d of extraDirs) {
    if (!fs.existsSync(d)) throw new UserError(`${d}: no such rules directory`);
    files.push(...(fs.statSync(d).isDirectory() ? listSpecFiles(d) : [d]));
  }
  const cat: Catalog = { rules: [], byId: new Map(), byHook: new Map(), byDeviceEvent: new Map(), byStatus: new Map() };
  const problems: Located[] = [];
  for (const file of files) {
    const spec = loadSpecFile<{ family: string; rules: RuleSpec[] }>(file, 'rules');
    if (opts.families && !opts.families.includes(spec.data.family)) continue;
    // Every expression of the file, parsed (or read from the cache) at once.
    const sources: string[] = [];
    for (const r of spec.data.rules) {
      if (typeof r.when === 'string') sources.push(r.when);
      for (const k of CHECK_KINDS[r.then?.check]?.exprs ?? []) if (typeof r.then[k] === 'string') sources.push(r.then[k] as string);
    }
    const trees = parseExprsCached(sources);
    spec.data.rules.forEach((r, i) => {
      const where = (key: string, sub?: string): Located => ({ file, ...locateRuleKey(spec, i, key, sub), message: '' });
      if (cat.byId.has(r.id)) {
        problems.push({ ...where('id'), message: `duplicate rule id '${r.id}' (also in ${path.relative(process.cwd(), cat.byId.get(r.id)!.file)})` });
        return;
      }
      const asts: CompiledRule['asts'] = { exprs: {} };
      const parse = (src: string, key: string, sub?: string): void => {
        const ast = trees.get(src)!;
        if (ast instanceof ExprError) {
          const p = where(key, sub);
          problems.push({ file, line: p.line, col: p.col + ast.offset, message: `${r.id}: ${ast.message}` });
        } else if (key === 'when') asts.when = ast;
        else asts.exprs[sub!] = ast;
      };
      const kind = CHECK_KINDS[r.then.check];
      if (!kind) {
        problems.push({ ...where('then', 'check'), message: `${r.id}: unknown check kind '${r.then.check}' (known: ${Object.keys(CHECK_KINDS).join(', ')})` });
        return;
      }
      for (const k of kind.exprs) {
        const src = r.then[k];
        if (typeof src === 'number') asts.exprs[k] = src;
        else if (typeof src === 'string') parse(src, 'then', k);
        else problems.push({ ...where('then'), message: `${r.id}: check '${r.then.check}' needs option '${k}'` });
      }
      if (r.when) parse(r.when, 'when');
      if (kind.needsGiven && !r.given) {
        problems.push({ ...where('then'), message: `${r.id}: check '${r.then.check}' needs 'given' (the moment it looks at)` });
        return;
      }
      const meta = ruleMeta(r, spec.data.family);
      const rule: CompiledRule = { meta, spec: r, given: r.given, asts, file, domain: kind.domain };
      cat.rules.push(rule);
      cat.byId.set(r.id, rule);
      if (kind.domain !== 'wire') return;
      if (r.given) {
        const list = cat.byHook.get(r.given) ?? [];
        list.push(rule);
        cat.byHook.set(r.given, list);
      }
      for (const e of r.device_events ?? []) cat.byDeviceEvent.set(e, rule);
      for (const s of r.statuses ?? []) cat.byStatus.set(s, rule);
    });
  }
  if (problems.length) throw new UserError(`invalid rule catalog (${problems.length} problem(s))`, problems);
  return cat;
}
