import { loadSpecFile, nodeAtPath, yamlLib, type LoadedSpec } from '../specs/load.js';
import { specPath } from '../util/paths.js';
import { BUILTINS, ExprCodeGen, ExprError, parseExprsCached, type Ast, type Value } from '../rules/expr.js';
import { UserError, type Located } from '../util/errors.js';
import type { EventDef } from '../parse/event-spec.js';
import type { Fields } from '../parse/template.js';
import { TypedEv, type Ev } from './event.js';
import type { LineTexts } from '../read/lines.js';

/**
 * A trace format's normalisation spec (specs/trace/<format>-normalise.yaml): for each event, the normalised
 * event it becomes. Loaded and checked against the event templates once, then compiled twice from the same
 * syntax trees: for records (fields by name, from the string parser) and for typed lines (values straight
 * from the WebAssembly typer's arrays, no record or fields object in between).
 */

type Literal = string | number | boolean | null;
interface AltSpec {
  when?: string;
  kind: string;
  fields?: Record<string, Literal>;
}
interface NormaliseFile {
  kind: 'trace-normalise';
  format: 'qemu';
  events: Record<string, AltSpec | AltSpec[]>;
}

/** One alternative: its condition, its kind, and each field's value as a syntax tree. */
export interface Alternative {
  when?: Ast;
  kind: string;
  fields: [string, Ast][];
}

/** Alternatives by event name, tried in order. */
export type Normalisation = Map<string, Alternative[]>;

const loaded = new Map<string, Normalisation>();

/** Loads a normalisation spec and checks every name in it against the event templates (once per process). */
export function loadNormalisation(defs: Map<string, EventDef>, file: string = specPath('trace', 'qemu-normalise.yaml')): Normalisation {
  const hit = loaded.get(file);
  if (hit) return hit;
  const spec = loadSpecFile<NormaliseFile>(file, 'trace-normalise');
  const events = spec.data.events;
  const listOf = (alts: AltSpec | AltSpec[]): AltSpec[] => (Array.isArray(alts) ? alts : [alts]);
  // Parsing ~100 expressions with Ohm costs tens of milliseconds: their trees are read from the cache at once.
  const sources = Object.values(events).flatMap((alts) => listOf(alts).flatMap((a) => [a.when, ...Object.values(a.fields ?? {})].filter((v): v is string => typeof v === 'string')));
  const trees = parseExprsCached(sources);
  const problems: Located[] = [];
  const out: Normalisation = new Map();
  for (const [name, alts] of Object.entries(events)) {
    const list = listOf(alts);
    const at = (...path: (string | number)[]): (string | number)[] => ['events', name, ...(Array.isArray(alts) ? path : path.slice(1))];
    const def = defs.get(name);
    if (!def) {
      problems.push({ file, ...keyWhere(spec, name), message: `${name}: no such event in the templates (specs/trace/qemu-events.yaml)` });
      continue;
    }
    const fieldNames = new Set(def.tpl.fieldNames);
    const tree = (v: Literal, path: (string | number)[], label: string): Ast | undefined => {
      if (typeof v !== 'string') return { t: 'lit', v };
      const p = trees.get(v)!;
      if (p instanceof ExprError) {
        problems.push({ file, ...where(spec, path, p.offset), message: `${name} ${label}: ${p.message}` });
        return undefined;
      }
      for (const bad of unknownNames(p, fieldNames)) {
        const hint = bad.startsWith('unknown field') ? ` (fields of its template: ${def.tpl.fieldNames.join(', ') || 'none'})` : '';
        problems.push({ file, ...where(spec, path), message: `${name} ${label}: ${bad}${hint}` });
        return undefined;
      }
      return p;
    };
    out.set(
      name,
      list.map((a, i) => {
        const when = a.when !== undefined ? tree(a.when, at(i, 'when'), 'when') : undefined;
        const fields = Object.entries(a.fields ?? {}).map(([k, v]): [string, Ast] => [k, tree(v, at(i, 'fields', k), `field '${k}'`) ?? { t: 'lit', v: null }]);
        return { ...(when ? { when } : {}), kind: a.kind, fields };
      }),
    );
  }
  if (problems.length) throw new UserError(`${file}: invalid normalisation (${problems.length} problem(s))`, problems);
  loaded.set(file, out);
  return out;
}

/** Names in an expression that are neither template fields nor builtins, as messages. */
function unknownNames(n: Ast, fields: Set<string>): string[] {
  switch (n.t) {
    case 'var':
      return fields.has(n.name) ? [] : [`unknown field '${n.name}'`];
    case 'call':
      return [...(BUILTINS[n.fn] ? [] : [`unknown function '${n.fn}'`]), ...n.args.flatMap((a) => unknownNames(a, fields))];
    case 'bin':
      return [...unknownNames(n.a, fields), ...unknownNames(n.b, fields)];
    case 'not':
    case 'neg':
      return unknownNames(n.e, fields);
    case 'member':
      return unknownNames(n.obj, fields);
    default:
      return [];
  }
}

function where(spec: LoadedSpec, path: (string | number)[], offset = 0): { line: number; col: number } {
  const node = nodeAtPath(spec, path) ?? nodeAtPath(spec, path.slice(0, -1));
  const quoted = node && yamlLib().isScalar(node) && (node as { type?: string }).type !== 'PLAIN' ? 1 : 0;
  const p = spec.lineCounter.linePos((node?.range?.[0] ?? 0) + quoted + offset);
  return { line: p.line, col: p.col };
}

/** Where an event's name is written. */
function keyWhere(spec: LoadedSpec, name: string): { line: number; col: number } {
  const events = nodeAtPath(spec, ['events']);
  const y = yamlLib();
  const key = y.isMap(events) ? events.items.find((p) => y.isScalar(p.key) && p.key.value === name)?.key : undefined;
  const p = spec.lineCounter.linePos(y.isScalar(key) ? (key.range?.[0] ?? 0) : 0);
  return { line: p.line, col: p.col };
}

/** A record's normaliser: from its fields by name. */
export type RecordNormaliser = (f: Fields, line: number, raw: string) => Ev | undefined;
/**
 * A typed line's normaliser: from its values (template field order, from `at`; NaN: an absent optional field;
 * a text field: its index in `strs`).
 */
export type TypedNormaliser = (v: Float64Array, at: number, strs: string[], line: number, texts: LineTexts, i: number) => Ev | undefined;

/**
 * The body of a normaliser: each alternative in order, the first whose condition holds builds the event (by
 * `make(kind, fields)`: an object literal, or a TypedEv).
 */
function body(g: ExprCodeGen, alts: Alternative[], make = (kind: string, fields: string): string => `{ kind: ${kind}, line, raw, f: ${fields} }`): string {
  const q = (x: string): string => JSON.stringify(x);
  const parts = alts.map((a) => {
    const ev = make(q(a.kind), `{ ${a.fields.map(([k, v]) => `${q(k)}: ${g.gen(v)}`).join(', ')} }`);
    return a.when ? `if (${g.truthy(g.gen(a.when))}) return ${ev};` : `return ${ev};`;
  });
  return `${parts.join('\n')}\nreturn undefined;`;
}

export function recordNormaliser(alts: Alternative[]): RecordNormaliser {
  const g = new ExprCodeGen();
  return g.build('s, line, raw', body(g, alts)) as RecordNormaliser;
}

/** The template's fields as locals read from the values, then the same body as recordNormaliser's. */
export function typedNormaliser(alts: Alternative[], def: EventDef): TypedNormaliser {
  const names = def.tpl.fieldNames;
  const types = def.tpl.fieldTypes;
  const used = new Set<string>();
  const g = new ExprCodeGen((name) => {
    used.add(name);
    return `x${names.indexOf(name)}`;
  });
  // The event's text stays in the batch until something asks for it (line i of texts).
  const ev = g.constant(TypedEv as unknown as Value);
  const code = body(g, alts, (kind, fields) => `new ${ev}(${kind}, line, texts, i, ${fields})`);
  const optional = def.tpl.pieces.some((p) => p.t === 'opt');
  const locals = names
    .map((name, i) => {
      if (!used.has(name)) return '';
      // A text field's value is its index in strs (NaN when absent: strs[NaN] is undefined).
      if (types[i] === 'str' || types[i] === 'word') return `const x${i} = strs[v[at + ${i}]];`;
      return optional ? `let x${i} = v[at + ${i}]; if (x${i} !== x${i}) x${i} = undefined;` : `const x${i} = v[at + ${i}];`;
    })
    .join(' ');
  return g.build('v, at, strs, line, texts, i', `${locals}\n${code}`) as TypedNormaliser;
}

/** `device.error {event, ...fields}`, for the device's problem reports (class err/ub), typed: one alternative. */
export function typedDeviceError(def: EventDef): TypedNormaliser {
  const fields = def.tpl.fieldNames.map((n): [string, Ast] => [n, { t: 'var', name: n }]);
  return typedNormaliser([{ kind: 'device.error', fields: [['event', { t: 'lit', v: def.name }], ...fields] }], def);
}
