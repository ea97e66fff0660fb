import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv2020Type, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Document, LineCounter, Node } from 'yaml';
import { type Located, UserError } from '../util/errors.js';
import { SPECS_DIR } from '../util/paths.js';
import { cached, cacheKey } from '../util/cache.js';

/**
 * Loads YAML spec files and validates them against the JSON Schema of their `kind`
 * (specs/schema/<kind>.schema.json). ajv reports JSON pointers; we map them back to the
 * YAML node through the positions the yaml library keeps, so every error is file:line:col.
 */

const SCHEMA_DIR = path.join(SPECS_DIR, 'schema');

let yaml: typeof import('yaml') | undefined;
/** The yaml library, loaded on first use: a run with a warm spec cache parses no YAML, and importing it costs ~30 ms (more on the reading thread's start). */
export function yamlLib(): typeof import('yaml') {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml;
}
/** A new ajv (draft 2020-12), with the library loaded on first use: with a warm spec cache a run never needs it. */
export function createAjv(options: ConstructorParameters<typeof Ajv2020Type>[0]): Ajv2020Type {
  const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  return new Ajv2020(options);
}

let ajvInstance: Ajv2020Type | undefined;
function ajv(): Ajv2020Type {
  ajvInstance ??= createAjv({ allErrors: true, strict: false, allowUnionTypes: true });
  return ajvInstance;
}
const validators = new Map<string, ValidateFunction>();

export function schemaFor(kind: string): ValidateFunction | undefined {
  let v = validators.get(kind);
  if (v) return v;
  const file = path.join(SCHEMA_DIR, `${kind}.schema.json`);
  if (!/^[a-z0-9-]+$/.test(kind) || !fs.existsSync(file)) return undefined;
  const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as object;
  v = ajv().compile(schema);
  validators.set(kind, v);
  return v;
}

export interface LoadedSpec<T = unknown> {
  file: string;
  kind: string;
  data: T;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

function pos(lc: LineCounter, offset: number): { line: number; col: number } {
  const p = lc.linePos(offset);
  return { line: p.line, col: p.col };
}

function pointerSegments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Finds the YAML node (value, or key when asked) at a JSON pointer; falls back to the deepest ancestor found. */
function nodeAt(doc: Document.Parsed, segments: string[], wantKeyOf?: string): Node | null {
  let node: unknown = doc.contents;
  for (const seg of segments) {
    if (yamlLib().isMap(node)) {
      const pair = node.items.find((it) => yamlLib().isScalar(it.key) && String(it.key.value) === seg);
      if (!pair) break;
      node = pair.value;
    } else if (yamlLib().isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      node = item;
    } else break;
  }
  if (wantKeyOf !== undefined && yamlLib().isMap(node)) {
    const pair = node.items.find((it) => yamlLib().isPair(it) && yamlLib().isScalar(it.key) && String(it.key.value) === wantKeyOf);
    if (pair && yamlLib().isScalar(pair.key)) return pair.key as Node;
  }
  return (node as Node) ?? null;
}

/** The YAML node at exactly this path of a loaded spec, or undefined when any segment is missing. */
export function nodeAtPath(spec: Pick<LoadedSpec, 'doc'>, path: (string | number)[]): Node | undefined {
  let node: unknown = spec.doc.contents;
  for (const seg of path) {
    if (yamlLib().isMap(node)) node = node.get(seg, true);
    else if (yamlLib().isSeq(node)) node = node.items[seg as number];
    else return undefined;
  }
  return node as Node | undefined;
}

function describeAjvError(e: ErrorObject): string {
  const where = e.instancePath || '(document root)';
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown key '${(e.params as { additionalProperty: string }).additionalProperty}' at ${where}`;
    case 'required':
      return `missing required key '${(e.params as { missingProperty: string }).missingProperty}' at ${where}`;
    case 'enum':
      return `${where} ${e.message}: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

export function locateAjvErrors(file: string, doc: Document.Parsed, lc: LineCounter, errors: ErrorObject[]): Located[] {
  const out: Located[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // oneOf/anyOf summaries repeat what their branches said; keep the specific ones.
    if (e.keyword === 'if') continue;
    const segs = pointerSegments(e.instancePath);
    const keyOf = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty : undefined;
    const node = nodeAt(doc, segs, keyOf);
    const offset = node?.range?.[0] ?? 0;
    const p = pos(lc, offset);
    const message = describeAjvError(e);
    const key = `${p.line}:${p.col}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file, line: p.line, col: p.col, message });
  }
  return out;
}

/** Parses and validates one spec file. Throws UserError with every located problem. */
export function loadSpecFile<T = unknown>(file: string, expectKind?: string): LoadedSpec<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read spec: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  // Only a spec that validated is cached; the key covers its text and its schema, so any edit re-validates.
  const kindMatch = /^kind:\s*([a-z0-9-]+)\s*$/m.exec(text);
  const schemaFile = kindMatch ? path.join(SCHEMA_DIR, `${kindMatch[1]}.schema.json`) : '';
  const schemaText = schemaFile && fs.existsSync(schemaFile) ? fs.readFileSync(schemaFile, 'utf8') : '';
  const key = cacheKey('spec-v1', expectKind ?? '', text, schemaText);
  const hit = cached<{ ok: boolean; kind?: string; data?: T }>(key, () => {
    const { problems, spec } = checkSpecText<T>(file, text, expectKind);
    return problems.length === 0 && spec ? { ok: true, kind: spec.kind, data: spec.data } : { ok: false };
  });
  if (hit.ok) return lazySpec<T>(file, text, hit.kind!, hit.data as T);
  const { problems, spec } = checkSpecText<T>(file, text, expectKind);
  if (problems.length > 0 || !spec) {
    throw new UserError(`${file}: invalid spec (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
  }
  return spec;
}

/** A validated spec whose YAML document (needed only to locate later problems) is parsed on first use. */
function lazySpec<T>(file: string, text: string, kind: string, data: T): LoadedSpec<T> {
  let parsed: { doc: Document.Parsed; lineCounter: LineCounter } | undefined;
  const get = (): { doc: Document.Parsed; lineCounter: LineCounter } => {
    if (!parsed) {
      const lineCounter = new (yamlLib().LineCounter)();
      parsed = { doc: yamlLib().parseDocument(text, { lineCounter }), lineCounter };
    }
    return parsed;
  };
  return {
    file,
    kind,
    data,
    get doc() {
      return get().doc;
    },
    get lineCounter() {
      return get().lineCounter;
    },
  };
}

/** Validates spec text; returns problems instead of throwing (used by `specs validate`). */
export function checkSpecText<T = unknown>(
  file: string,
  text: string,
  expectKind?: string,
): { problems: Located[]; spec?: LoadedSpec<T> } {
  const lineCounter = new (yamlLib().LineCounter)();
  const doc = yamlLib().parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: Located[] = [];
  for (const e of doc.errors) {
    const p = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    problems.push({ file, line: p.line, col: p.col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (problems.length) return { problems };
  const data = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null;
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return { problems: [{ file, line: 1, col: 1, message: 'a spec must be a YAML mapping with a `kind` key' }] };
  }
  const kind = data.kind;
  if (typeof kind !== 'string') {
    return { problems: [{ file, line: 1, col: 1, message: "missing required key 'kind' (names the schema in specs/schema/)" }] };
  }
  if (expectKind && kind !== expectKind) {
    const node = nodeAt(doc, ['kind']);
    const p = pos(lineCounter, node?.range?.[0] ?? 0);
    return { problems: [{ file, ...p, message: `expected a spec of kind '${expectKind}', found '${kind}'` }] };
  }
  const validate = schemaFor(kind);
  if (!validate) {
    const node = nodeAt(doc, ['kind']);
    const p = pos(lineCounter, node?.range?.[0] ?? 0);
    return { problems: [{ file, ...p, message: `unknown spec kind '${kind}' (no specs/schema/${kind}.schema.json)` }] };
  }
  if (!validate(data)) {
    problems.push(...locateAjvErrors(file, doc, lineCounter, validate.errors ?? []));
  }
  const firstLine = text.split('\n', 1)[0] ?? '';
  if (!/^# yaml-language-server: \$schema=\S+/.test(firstLine)) {
    problems.push({ file, line: 1, col: 1, message: 'first line must be `# yaml-language-server: $schema=<path to its schema>` so editors validate it' });
  }
  if (problems.length) return { problems };
  return { problems, spec: { file, kind, data: data as T, doc, lineCounter } };
}

/**
 * Every .yaml/.yml file below dir, sorted by code unit (stable output in any locale; localeCompare would also
 * cost ~9 ms of ICU start-up on every run).
 */
export function listSpecFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) {
        if (ent.name !== 'schema' && ent.name !== 'node_modules') walk(p);
      } else if (/\.ya?ml$/.test(ent.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

export function validateSpecDir(dir: string = SPECS_DIR): { files: number; problems: Located[] } {
  if (!fs.existsSync(dir)) throw new UserError(`${dir}: no such directory`);
  const files = fs.statSync(dir).isDirectory() ? listSpecFiles(dir) : [dir];
  const problems: Located[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (err) {
      problems.push({ file: f, line: 1, col: 1, message: `cannot read: ${(err as NodeJS.ErrnoException).code}` });
      continue;
    }
    problems.push(...checkSpecText(f, text).problems);
  }
  return { files: files.length, problems };
}
