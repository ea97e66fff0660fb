import fs from 'node:fs';
import type * as ohm from 'ohm-js';
import { ohmLib } from '../util/ohm.js';
import { loadSpecFile } from '../specs/load.js';
import { grammarPath, specPath } from '../util/paths.js';
import type { Fields } from './template.js';
import type { LineParser, ParseDiagnostic, TraceRecord } from './record.js';

/**
 * The nvmeproof canonical trace (docs/canonical-trace.md): text lines `EVENT key=value ...` after a header
 * `nvmeproof-canonical v1 ...`, or the same events as JSON Lines. The syntax is grammar/canonical.ohm; the
 * events, their keys and value types are data (specs/trace/canonical-events.yaml).
 *
 * Two parsers with one meaning, as for the QEMU templates (src/parse/template.ts):
 *  - the hot path: a hand scanner (no regex, no Ohm) that splits key=value pairs and types each value;
 *  - an Ohm grammar generated from the spec (`CanonicalEvents <: Canonical`, one rule per event and key), used
 *    for lines the scanner rejects, because Ohm says where and what it expected; NVMEPROOF_NO_FAST_PATH=1 parses
 *    every line with it. test/canonical-parse.test.ts runs both over every canonical line we have and thousands
 *    of corrupted ones.
 * JSON Lines go through JSON.parse and then the same value typing and key validation.
 */

const FAST = process.env.NVMEPROOF_NO_FAST_PATH !== '1';

export type CanonType = 'uint' | 'addr' | 'uints' | 'word' | 'words' | 'str' | 'bool' | 'author' | 'enum';
export const AUTHORS = ['manager', 'provider', 'kernel'] as const;
export type Author = (typeof AUTHORS)[number];

export interface KeyDef {
  name: string;
  type: CanonType;
  values?: string[];
  required: boolean | 'authors';
  description?: string;
}

export interface Requirement {
  if: string;
  then: string[];
  unless?: Record<string, number[]>;
  why?: string;
}

export interface CanonEventDef {
  name: string;
  description: string;
  normalisesTo: string[];
  keys: Map<string, KeyDef>;
  extra: boolean;
  oneOf: string[][];
  anyOf: string[][];
  requires: Requirement[];
  /** Keys required always, and keys required when the trace carries authors. */
  always: string[];
  withAuthors: string[];
  /** The scanner's view of the same definition: keys by index, presence by generation stamps. */
  fast: FastDef;
}

/** Per-event tables for the hot path (same meaning as keys / always / one_of / any_of / requires). */
interface KeyTrie {
  next: (KeyTrie | undefined)[];
  key: number;
}

interface FastDef {
  /** Key names by character (a-z, 0-9, _): the scanner finds a key's index without slicing or hashing it. */
  trie: KeyTrie;
  keys: KeyDef[];
  /** 1: uint/addr (typed inline), 0: anything else (typeValue). */
  uint: Uint8Array;
  stamp: Uint32Array;
  always: number[];
  withAuthors: number[];
  oneOf: number[][];
  anyOf: number[][];
  requires: { if: number; then: number[]; unless: [number, number[]][] | undefined }[];
}

/** Line generation for presence stamps (parsing is synchronous: one line at a time, whatever the parser). */
let generation = 0;

function compileFast(keys: Map<string, KeyDef>, always: string[], withAuthors: string[], oneOf: string[][], anyOf: string[][], requires: Requirement[]): FastDef {
  const list = [...keys.values()];
  const index = new Map(list.map((k, i) => [k.name, i]));
  const ix = (name: string): number => index.get(name) ?? -1;
  const trie: KeyTrie = { next: new Array(123).fill(undefined), key: -1 };
  list.forEach((k, i) => {
    let n = trie;
    for (let j = 0; j < k.name.length; j++) n = n.next[k.name.charCodeAt(j)] ??= { next: new Array(123).fill(undefined), key: -1 };
    n.key = i;
  });
  return {
    trie,
    keys: list,
    uint: Uint8Array.from(list.map((k) => (k.type === 'uint' || k.type === 'addr' ? 1 : 0))),
    stamp: new Uint32Array(list.length),
    always: always.map(ix),
    withAuthors: withAuthors.map(ix),
    oneOf: oneOf.map((g) => g.map(ix)),
    anyOf: anyOf.map((g) => g.map(ix)),
    requires: requires.map((r) => ({ if: ix(r.if), then: r.then.map(ix), unless: r.unless ? Object.entries(r.unless).map(([k, v]) => [ix(k), v] as [number, number[]]) : undefined })),
  };
}

export interface CanonSpec {
  file: string;
  version: number;
  header: Map<string, KeyDef>;
  events: Map<string, CanonEventDef>;
  types: Record<string, string>;
}

interface SpecFile {
  kind: 'canonical-events';
  format: 'canonical';
  version: number;
  description?: string;
  types?: Record<string, string>;
  header: { description?: string; keys: Record<string, Omit<KeyDef, 'name' | 'required'> & { required?: boolean | 'authors' }> };
  events: Record<
    string,
    {
      description: string;
      normalises_to: string[];
      keys: Record<string, Omit<KeyDef, 'name' | 'required'> & { required?: boolean | 'authors' }>;
      extra_keys?: boolean;
      one_of?: string[][];
      any_of?: string[][];
      requires?: Requirement[];
    }
  >;
}

const specCache = new Map<string, CanonSpec>();

function keyMap(keys: SpecFile['header']['keys']): Map<string, KeyDef> {
  const m = new Map<string, KeyDef>();
  for (const [name, k] of Object.entries(keys)) m.set(name, { name, type: k.type, values: k.values, required: k.required ?? false, description: k.description });
  return m;
}

/** The canonical event spec (specs/trace/canonical-events.yaml), schema-checked, once per process. */
export function loadCanonicalSpec(file = specPath('trace', 'canonical-events.yaml')): CanonSpec {
  const hit = specCache.get(file);
  if (hit) return hit;
  const data = loadSpecFile<SpecFile>(file, 'canonical-events').data;
  const events = new Map<string, CanonEventDef>();
  for (const [name, e] of Object.entries(data.events)) {
    const keys = keyMap(e.keys);
    const always = [...keys.values()].filter((k) => k.required === true).map((k) => k.name);
    const withAuthors = [...keys.values()].filter((k) => k.required === 'authors').map((k) => k.name);
    events.set(name, {
      name,
      description: e.description,
      normalisesTo: e.normalises_to,
      keys,
      extra: e.extra_keys ?? false,
      oneOf: e.one_of ?? [],
      anyOf: e.any_of ?? [],
      requires: e.requires ?? [],
      always,
      withAuthors,
      fast: compileFast(keys, always, withAuthors, e.one_of ?? [], e.any_of ?? [], e.requires ?? []),
    });
  }
  const spec: CanonSpec = { file, version: data.version, header: keyMap(data.header.keys), events, types: data.types ?? {} };
  specCache.set(file, spec);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** A typed value: scalars in TraceRecord.fields (bool as 1/0), uints lists in CanonRecord.lists. */
export type CanonScalar = number | bigint | string;

const MAX_U64 = 0xffffffffffffffffn;

function isWordChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 46 || // .
    c === 58 || // :
    c === 47 || // /
    c === 43 || // +
    c === 45 // -
  );
}

/** Parses an uint (decimal or 0x hex, at most 64 bits); undefined when it does not fit. */
export function parseUint(s: string): number | bigint | undefined {
  const len = s.length;
  if (len === 0) return undefined;
  let v = 0;
  if (len > 2 && s.charCodeAt(0) === 48 && s.charCodeAt(1) === 120) {
    if (len - 2 > 16) return undefined;
    for (let i = 2; i < len; i++) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) return undefined;
      v = v * 16 + d;
    }
    if (v > Number.MAX_SAFE_INTEGER) return BigInt(s);
    return v;
  }
  if (len > 20) return undefined;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    v = v * 10 + (c - 48);
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    const b = BigInt(s);
    return b > MAX_U64 ? undefined : b;
  }
  return v;
}

function isWord(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isWordChar(s.charCodeAt(i))) return false;
  return true;
}

/** How a value was written: bare text, a "quoted" text form string, or a JSON value turned into text. */
export type ValueForm = 'bare' | 'quoted' | 'json';

/** Types one value. Returns undefined when it does not fit the key's type (the caller explains why). */
export function typeValue(k: KeyDef, text: string, form: ValueForm): CanonScalar | (number | bigint)[] | undefined {
  if (form === 'quoted' && k.type !== 'str') return undefined;
  switch (k.type) {
    case 'uint':
    case 'addr':
      return parseUint(text);
    case 'uints': {
      const parts = text.split(',');
      const out: (number | bigint)[] = new Array(parts.length);
      for (let i = 0; i < parts.length; i++) {
        const v = parseUint(parts[i]!);
        if (v === undefined) return undefined;
        out[i] = v;
      }
      return out;
    }
    case 'word':
      return isWord(text) ? text : undefined;
    case 'words': {
      const parts = text.split(',');
      for (const p of parts) if (!isWord(p)) return undefined;
      return text;
    }
    case 'str':
      return text;
    case 'bool':
      return text === '1' || text === 'true' || text === 'yes' ? 1 : text === '0' || text === 'false' || text === 'no' ? 0 : undefined;
    case 'author':
      return text === 'manager' || text === 'provider' || text === 'kernel' ? text : undefined;
    case 'enum':
      return k.values!.includes(text) ? text : undefined;
  }
}

function describeType(k: KeyDef): string {
  switch (k.type) {
    case 'uint':
      return 'an unsigned integer (decimal or 0x hex, at most 64 bits)';
    case 'addr':
      return 'an address (0x hex, at most 64 bits)';
    case 'uints':
      return 'a comma-separated list of unsigned integers (no spaces)';
    case 'word':
      return 'a word (letters, digits, _ . : / + -)';
    case 'words':
      return 'a comma-separated list of words (no spaces)';
    case 'str':
      return 'a bare word or a "quoted" string';
    case 'bool':
      return '0, 1, true, false, yes or no';
    case 'author':
      return 'manager, provider or kernel';
    case 'enum':
      return `one of ${k.values!.join(', ')}`;
  }
}

/** Auto-typed extra keys (device.error): an uint when it looks like one, else text. */
function autoValue(text: string, form: ValueForm): CanonScalar {
  if (form !== 'quoted') {
    const v = parseUint(text);
    if (v !== undefined) return v;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------------
// Records

/** One canonical event, typed by the spec. Scalars are in `fields` (bools as 1/0); uints lists in `lists`. */
export interface CanonRecord extends TraceRecord {
  lists?: Record<string, (number | bigint)[]>;
}

export interface CanonicalHeader {
  version: number;
  line: number;
  authors: boolean;
  registers: boolean;
  producer?: string;
  source?: string;
  lane?: string;
  dstrd?: number;
  shape?: string;
  file?: string;
  /** JSON Lines (true) or text. */
  jsonl: boolean;
}

/** A problem with one pair or with the whole line, with where it is (0-based offset in the line). */
interface Problem {
  offset: number;
  message: string;
}

interface Pair {
  key: string;
  text: string;
  form: ValueForm;
  offset: number;
}

/**
 * Checks the pairs of one event against its definition and builds the record's values. Shared by the scanner,
 * the Ohm path and the JSON path, so the three agree on meaning. Returns a problem or undefined.
 */
function buildValues(
  def: { keys: Map<string, KeyDef>; extra: boolean; always: string[]; withAuthors: string[]; oneOf: string[][]; anyOf: string[][]; requires: Requirement[]; name: string },
  pairs: Pair[],
  authors: boolean,
  fields: Fields,
  lists: { v?: Record<string, (number | bigint)[]> },
  endOffset: number,
): Problem | undefined {
  for (const p of pairs) {
    if (p.key.length > 2 && p.key.startsWith('x_')) continue; // vendor key
    const k = def.keys.get(p.key);
    if (!k && !def.extra) return { offset: p.offset, message: `${def.name}: unknown key '${p.key}' (known: ${[...def.keys.keys()].join(', ')}; vendor keys start with x_)` };
    if (fields[p.key] !== undefined || lists.v?.[p.key] !== undefined) return { offset: p.offset, message: `${def.name}: key '${p.key}' given twice` };
    if (!k) {
      fields[p.key] = autoValue(p.text, p.form);
      continue;
    }
    const v = typeValue(k, p.text, p.form);
    if (v === undefined) {
      const shown = p.form === 'quoted' ? JSON.stringify(p.text) : p.text;
      const hint = p.form === 'quoted' ? ' (only text values may be quoted)' : '';
      return { offset: p.offset + p.key.length + 1, message: `${def.name}: ${p.key}=${shown} is not ${describeType(k)}${hint}` };
    }
    if (Array.isArray(v)) (lists.v ??= {})[p.key] = v;
    else fields[p.key] = v;
  }
  const missing = checkPresence(def, authors, (key) => fields[key] !== undefined || lists.v?.[key] !== undefined, (key) => fields[key]);
  return missing === undefined ? undefined : { offset: endOffset, message: missing };
}

function checkPresence(
  def: { always: string[]; withAuthors: string[]; oneOf: string[][]; anyOf: string[][]; requires: Requirement[]; name: string },
  authors: boolean,
  has: (key: string) => boolean,
  get: (key: string) => unknown,
): string | undefined {
  for (const key of def.always) if (!has(key)) return `${def.name}: missing required key '${key}'`;
  if (authors) for (const key of def.withAuthors) if (!has(key)) return `${def.name}: missing required key '${key}' (the trace carries authors: say who did it, ${key}=manager|provider|kernel; or declare authors=no in the header)`;
  for (const group of def.oneOf) {
    const n = group.filter(has).length;
    if (n !== 1) return `${def.name}: give exactly one of ${group.join(', ')}${n > 1 ? ' (not several)' : ''}`;
  }
  for (const group of def.anyOf) if (!group.some(has)) return `${def.name}: give at least one of ${group.join(', ')}`;
  for (const r of def.requires) {
    if (!has(r.if)) continue;
    if (r.unless && Object.entries(r.unless).every(([k, vs]) => vs.some((v) => Number(get(k)) === v))) continue;
    const lacking = r.then.filter((k) => !has(k));
    if (lacking.length) return `${def.name}: ${r.if}= needs ${lacking.map((k) => `${k}=`).join(' and ')}${r.why ? ` (${r.why})` : ''}`;
  }
  return undefined;
}

const HEADER_WORD = 'nvmeproof-canonical';

// ---------------------------------------------------------------------------------------------------------
// The Ohm grammar generated from the spec (diagnostics and the slow path)

let baseSource: string | undefined;
const generated = new Map<CanonSpec, { g: ohm.Grammar; sem: ohm.Semantics; keyOf: Map<string, string> }>();

function ohmString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function valueRule(k: KeyDef): string {
  switch (k.type) {
    case 'bool':
      return 't_bool';
    case 'author':
      return 't_author';
    case 'enum':
      return `(${k.values!.map(ohmString).join(' | ')}) &valueEnd`;
    default:
      return `t_${k.type} &valueEnd`;
  }
}

/** `CanonicalEvents <: Canonical`: the event and header rules spelt out from the spec. */
export function generatedGrammarSource(spec: CanonSpec): { source: string; keyOf: Map<string, string> } {
  const keyOf = new Map<string, string>();
  const rules: string[] = [];
  const evNames: string[] = [];
  let i = 0;
  for (const def of spec.events.values()) {
    const ev = `ev_${i}`;
    evNames.push(ev);
    const alts: string[] = [];
    let j = 0;
    for (const k of def.keys.values()) {
      const rule = `k_${i}_${j++}`;
      keyOf.set(rule, k.name);
      rules.push(`  ${rule} = ${ohmString(k.name + '=')} ${valueRule(k)}`);
      alts.push(rule);
    }
    alts.push('xPair');
    if (def.extra) alts.push('pair');
    rules.push(`  ${ev} = ${ohmString(def.name)} &valueEnd (sep p_${i})*`);
    rules.push(`  p_${i} = ${alts.join(' | ')}`);
    i++;
  }
  const halts: string[] = [];
  let j = 0;
  for (const k of spec.header.values()) {
    const rule = `hk_${j++}`;
    keyOf.set(rule, k.name);
    rules.push(`  ${rule} = ${ohmString(k.name + '=')} ${valueRule(k)}`);
    halts.push(rule);
  }
  halts.push('xPair');
  const source = `CanonicalEvents <: Canonical {
  header := ${ohmString(HEADER_WORD)} sep version (sep hp)*
  hp = ${halts.join(' | ')}
  event := ${evNames.join(' | ')}
${rules.join('\n')}
}`;
  return { source, keyOf };
}

function grammarFor(spec: CanonSpec): { g: ohm.Grammar; sem: ohm.Semantics; keyOf: Map<string, string> } {
  let hit = generated.get(spec);
  if (hit) return hit;
  baseSource ??= fs.readFileSync(grammarPath('canonical.ohm'), 'utf8');
  const { source, keyOf } = generatedGrammarSource(spec);
  const ns = ohmLib().grammars(baseSource + '\n' + source);
  const g = ns.CanonicalEvents!;
  const sem = g.createSemantics().addOperation('pairs', {
    _nonterminal(...children: ohm.Node[]) {
      const rule = this.ctorName;
      if (rule === 'xPair') return [];
      if (rule === 'pair' || keyOf.has(rule)) {
        const src = this.sourceString;
        const eq = src.indexOf('=');
        const text = src.slice(eq + 1);
        const quoted = text.charCodeAt(0) === 34;
        return [{ key: keyOf.get(rule) ?? src.slice(0, eq), text: quoted ? unquote(text) : text, form: quoted ? 'quoted' : 'bare', offset: this.source.startIdx } satisfies Pair];
      }
      return children.flatMap((c) => c.pairs() as Pair[]);
    },
    _iter(...children: ohm.Node[]) {
      return children.flatMap((c) => c.pairs() as Pair[]);
    },
    _terminal() {
      return [];
    },
  });
  hit = { g, sem, keyOf };
  generated.set(spec, hit);
  return hit;
}

function unquote(q: string): string {
  let out = '';
  for (let i = 1; i < q.length - 1; i++) {
    const c = q[i]!;
    if (c === '\\') {
      const n = q[++i]!;
      out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
    } else out += c;
  }
  return out;
}

/** Lines longer than this are explained from the scanner alone (Ohm's memo tables grow with the input). */
const MAX_OHM_LINE = 50_000;

// ---------------------------------------------------------------------------------------------------------
// The parser

export interface CanonicalParserOptions {
  spec?: CanonSpec;
  /** Receives lines that are not canonical events (console noise). */
  onOther?: (text: string, line: number) => void;
  /** Forces the line syntax instead of the per-line choice (`{` starts JSON). */
  fastPath?: boolean;
}

export class CanonicalParser implements LineParser {
  readonly format = 'canonical' as const;
  readonly diagnostics: ParseDiagnostic[] = [];
  readonly unknownEvents = new Map<string, number>();
  otherLines = 0;
  skipped = 0;
  header?: CanonicalHeader;
  private events = 0;
  private readonly spec: CanonSpec;
  private readonly onOther?: (text: string, line: number) => void;
  private readonly fast: boolean;

  constructor(opts: CanonicalParserOptions = {}) {
    this.spec = opts.spec ?? loadCanonicalSpec();
    this.onOther = opts.onOther;
    this.fast = opts.fastPath ?? FAST;
  }

  /** Whether events must carry `by=` (until a header says otherwise: yes). */
  get authors(): boolean {
    return this.header?.authors ?? true;
  }

  parse(text: string, line: number): CanonRecord | undefined {
    const c0 = text.charCodeAt(0);
    if (c0 === 123 /* { */) return this.parseJson(text, line);
    let pos = 0;
    if (c0 === 91 /* [ */) {
      pos = skipPrefix(text);
      if (pos < 0) return this.other(text, line);
    }
    const len = text.length;
    // Comments and blank lines are part of the format, not noise.
    if (pos === len || text.charCodeAt(pos) === 35 /* # */ || isBlank(text, pos)) return undefined;
    let end = pos;
    while (end < len) {
      const c = text.charCodeAt(end);
      if (c === 32 || c === 9) break;
      end++;
    }
    const name = text.slice(pos, end);
    if (name === HEADER_WORD) {
      this.parseHeaderText(text, line, pos);
      return undefined;
    }
    const def = this.spec.events.get(name);
    if (def === undefined) {
      if (looksLikeEvent(name, text, end)) {
        this.unknownEvents.set(name, (this.unknownEvents.get(name) ?? 0) + 1);
        return undefined;
      }
      return this.other(text, line);
    }
    this.events++;
    if (!this.fast) return this.slowEvent(text, line, def);
    const fields: Fields = {};
    const lists: { v?: Record<string, (number | bigint)[]> } = {};
    if (!scanPairs(text, end, def, this.authors, fields, lists)) {
      this.diagnose(text, line, def);
      return undefined;
    }
    return { name, fields, lists: lists.v, line, raw: text, cls: 'info' };
  }

  private other(text: string, line: number): undefined {
    this.otherLines++;
    this.onOther?.(text, line);
    return undefined;
  }

  /** Header line: `nvmeproof-canonical v1 key=value ...`. */
  private parseHeaderText(text: string, line: number, pos: number): void {
    const at = pos + HEADER_WORD.length;
    const vm = /^[ \t]+v(\d+)(?=[ \t]|$)/.exec(text.slice(at));
    const split = vm ? splitPairs(text, at + vm[0].length) : undefined;
    if (!vm || !split) {
      const { g } = grammarFor(this.spec);
      const m = g.match(text);
      const off = m.failed() ? m.getRightmostFailurePosition() : 0;
      this.diagnostics.push({ line, col: off + 1, message: `header: expected ${m.failed() ? m.getExpectedText() : 'nvmeproof-canonical v1 key=value ...'}`, raw: text });
      return;
    }
    this.setHeader(Number(vm[1]), split, text, line, false);
  }

  private setHeader(version: number, pairs: Pair[], text: string, line: number, jsonl: boolean): void {
    if (this.header) {
      this.diagnostics.push({ line, col: 1, message: `a second header line (the first is line ${this.header.line})`, raw: text });
      return;
    }
    if (this.events > 0) {
      this.diagnostics.push({ line, col: 1, message: 'the header must come before the first event', raw: text });
    }
    if (version !== this.spec.version) {
      this.diagnostics.push({ line, col: 1, message: `canonical trace version v${version} is not supported (this nvmeproof reads v${this.spec.version})`, raw: text });
    }
    const fields: Fields = {};
    const def = { name: HEADER_WORD, keys: this.spec.header, extra: false, always: [], withAuthors: [], oneOf: [], anyOf: [], requires: [] };
    const p = buildValues(def, pairs, false, fields, {}, text.length);
    if (p) this.diagnostics.push({ line, col: p.offset + 1, message: p.message, raw: text });
    const str = (k: string): string | undefined => (typeof fields[k] === 'string' ? (fields[k] as string) : undefined);
    this.header = {
      version,
      line,
      jsonl,
      authors: fields.authors === undefined ? true : fields.authors === 1,
      registers: fields.registers === undefined ? true : fields.registers === 1,
      producer: str('producer'),
      source: str('source'),
      lane: str('lane'),
      dstrd: fields.dstrd === undefined ? undefined : Number(fields.dstrd),
      shape: str('shape'),
      file: str('file'),
    };
  }

  /** NVMEPROOF_NO_FAST_PATH=1: every line through the generated Ohm grammar. */
  private slowEvent(text: string, line: number, def: CanonEventDef): CanonRecord | undefined {
    if (text.length <= MAX_OHM_LINE) {
      const { g, sem } = grammarFor(this.spec);
      const m = g.match(text);
      if (m.succeeded()) {
        const fields: Fields = {};
        const lists: { v?: Record<string, (number | bigint)[]> } = {};
        const p = buildValues(def, sem(m).pairs() as Pair[], this.authors, fields, lists, text.length);
        if (!p) return { name: def.name, fields, lists: lists.v, line, raw: text, cls: 'info' };
      }
    }
    this.diagnose(text, line, def);
    return undefined;
  }

  /**
   * Why a line of a known event does not fit. When the line is well-formed key=value pairs, the key-level check
   * says which key is unknown, repeated, missing or of the wrong type; otherwise the generated Ohm grammar says
   * where the syntax breaks and what it expected there.
   */
  private diagnose(text: string, line: number, def: CanonEventDef): void {
    const split = splitPairs(text, eventNameEnd(text));
    if (split) {
      const p = buildValues(def, split, this.authors, {}, {}, text.length);
      if (p) {
        this.diagnostics.push({ line, col: p.offset + 1, message: p.message, raw: text });
        return;
      }
    }
    if (text.length <= MAX_OHM_LINE) {
      const { g } = grammarFor(this.spec);
      const m = g.match(text);
      if (m.failed()) {
        this.diagnostics.push({ line, col: m.getRightmostFailurePosition() + 1, message: `${def.name}: expected ${m.getExpectedText()}`, raw: text });
        return;
      }
    }
    this.diagnostics.push({ line, col: 1, message: `${def.name}: not a list of key=value pairs`, raw: text });
  }

  // ------------------------------------------------------------------------------------------ JSON Lines

  private parseJson(text: string, line: number): CanonRecord | undefined {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      const m = /position (\d+)/.exec(String((err as Error).message));
      this.diagnostics.push({ line, col: m ? Number(m[1]) + 1 : 1, message: `not a JSON object: ${(err as Error).message}`, raw: text });
      return undefined;
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
      this.diagnostics.push({ line, col: 1, message: 'a JSON Lines canonical event is a JSON object {"ev": EVENT, ...}', raw: text });
      return undefined;
    }
    const o = obj as Record<string, unknown>;
    const col = (key: string): number => {
      const i = text.indexOf(JSON.stringify(key));
      return i < 0 ? 1 : i + 1;
    };
    if ('nvmeproof' in o) {
      if (o.nvmeproof !== 'canonical') {
        this.diagnostics.push({ line, col: col('nvmeproof'), message: 'header: "nvmeproof" must be "canonical"', raw: text });
        return undefined;
      }
      const version = typeof o.version === 'number' ? o.version : NaN;
      const pairs = jsonPairs(o, ['nvmeproof', 'version'], col);
      if (!Array.isArray(pairs)) {
        this.diagnostics.push({ line, col: pairs.offset + 1, message: `header: ${pairs.message}`, raw: text });
        return undefined;
      }
      this.setHeader(version, pairs, text, line, true);
      return undefined;
    }
    const name = o.ev;
    if (typeof name !== 'string') {
      this.diagnostics.push({ line, col: 1, message: 'a JSON Lines canonical event needs "ev": the event name', raw: text });
      return undefined;
    }
    const def = this.spec.events.get(name);
    if (!def) {
      this.unknownEvents.set(name, (this.unknownEvents.get(name) ?? 0) + 1);
      return undefined;
    }
    this.events++;
    const pairs = jsonPairs(o, ['ev'], col);
    if (!Array.isArray(pairs)) {
      this.diagnostics.push({ line, col: pairs.offset + 1, message: `${name}: ${pairs.message}`, raw: text });
      return undefined;
    }
    const fields: Fields = {};
    const lists: { v?: Record<string, (number | bigint)[]> } = {};
    const p = buildValues(def, pairs, this.authors, fields, lists, text.length - 1);
    if (p) {
      this.diagnostics.push({ line, col: p.offset + 1, message: p.message, raw: text });
      return undefined;
    }
    return { name, fields, lists: lists.v, line, raw: text, cls: 'info' };
  }
}

/** JSON values as the text the value types read: numbers in decimal, arrays comma-joined, booleans as words. */
function jsonPairs(o: Record<string, unknown>, skip: string[], col: (key: string) => number): Pair[] | Problem {
  const out: Pair[] = [];
  for (const [key, v] of Object.entries(o)) {
    if (skip.includes(key)) continue;
    const offset = col(key) - 1;
    let text: string;
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) return { offset, message: `${key}: ${v} is not an unsigned integer JSON can hold exactly (write large values as "0x..." strings)` };
      text = String(v);
    } else if (typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (Array.isArray(v)) {
      const items: string[] = [];
      for (const x of v) {
        if (typeof x === 'string') items.push(x);
        else if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) items.push(String(x));
        else return { offset, message: `${key}: list items are unsigned integers or strings` };
      }
      if (items.length === 0) return { offset, message: `${key}: an empty list` };
      text = items.join(',');
    } else return { offset, message: `${key}: ${v === null ? 'null' : 'an object'} is not a value` };
    out.push({ key, text, form: 'json', offset });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The scanner (hot path)

/** Skips `[ 12.345678] ` and returns the position after it, or -1 when the line does not start with one. */
function skipPrefix(text: string): number {
  let i = 1;
  const len = text.length;
  while (i < len && text.charCodeAt(i) === 32) i++;
  const d0 = i;
  while (i < len && isDigit(text.charCodeAt(i))) i++;
  if (i === d0) return -1;
  if (text.charCodeAt(i) === 46) {
    i++;
    const d1 = i;
    while (i < len && isDigit(text.charCodeAt(i))) i++;
    if (i === d1) return -1;
  }
  if (text.charCodeAt(i) !== 93) return -1;
  i++;
  while (i < len && text.charCodeAt(i) === 32) i++;
  return i;
}

/** Where the event name ends (after an optional console timestamp). */
function eventNameEnd(text: string): number {
  let pos = text.charCodeAt(0) === 91 ? Math.max(0, skipPrefix(text)) : 0;
  while (pos < text.length && text.charCodeAt(pos) !== 32 && text.charCodeAt(pos) !== 9) pos++;
  return pos;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isBlank(text: string, pos: number): boolean {
  for (let i = pos; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}

/** An unknown event name followed by key=value pairs (a newer producer's event) rather than console noise. */
function looksLikeEvent(name: string, text: string, end: number): boolean {
  if (!/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/.test(name)) return false;
  const rest = text.slice(end).trim();
  return rest === '' || /^[a-z][a-z0-9_]*=/.test(rest);
}

/**
 * Splits the pairs after position `pos` with their offsets (diagnostics and the header, not the hot path), with
 * the same syntax as scanPairs; undefined when the text is not `( key=value)*`.
 */
function splitPairs(text: string, pos: number): Pair[] | undefined {
  const pairs: Pair[] = [];
  const len = text.length;
  let i = pos;
  for (;;) {
    const sepStart = i;
    while (i < len && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    if (i >= len) break;
    if (i === sepStart) return undefined;
    const start = i;
    if (!isKeyStart(text.charCodeAt(i))) return undefined;
    i++;
    while (i < len && isKeyChar(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 61) return undefined;
    const key = text.slice(start, i);
    const v = scanValue(text, i + 1);
    if (v === undefined) return undefined;
    pairs.push({ key, text: v.text, form: v.form, offset: start });
    i = v.end;
  }
  return pairs;
}

/** One value at `pos`: quoted (with escapes) or bare; undefined when it is malformed. */
function scanValue(text: string, pos: number): { text: string; form: ValueForm; end: number } | undefined {
  const len = text.length;
  if (text.charCodeAt(pos) === 34) {
    let i = pos + 1;
    let out = '';
    let from = i;
    for (;;) {
      if (i >= len) return undefined;
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c === 92) {
        const n = text.charCodeAt(i + 1);
        if (n !== 34 && n !== 92 && n !== 110 && n !== 116) return undefined;
        out += text.slice(from, i) + (n === 110 ? '\n' : n === 116 ? '\t' : String.fromCharCode(n));
        i += 2;
        from = i;
        continue;
      }
      i++;
    }
    out += text.slice(from, i);
    i++;
    if (i < len && text.charCodeAt(i) !== 32 && text.charCodeAt(i) !== 9) return undefined;
    return { text: out, form: 'quoted', end: i };
  }
  let i = pos;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9) break;
    if (c === 34) return undefined;
    i++;
  }
  if (i === pos) return undefined;
  return { text: text.slice(pos, i), form: 'bare', end: i };
}

function isKeyStart(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isKeyChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95;
}

/** The hot path: scans and types the pairs of one event line into fields. False when anything does not fit. */
function scanPairs(text: string, pos: number, def: CanonEventDef, authors: boolean, fields: Fields, lists: { v?: Record<string, (number | bigint)[]> }): boolean {
  const fd = def.fast;
  const stamp = fd.stamp;
  const gen = (generation = (generation + 1) >>> 0 || 1);
  const len = text.length;
  let i = pos;
  for (;;) {
    // separator (at least one space or tab between the name/pairs), then a pair or the line end
    const sepStart = i;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9) break;
      i++;
    }
    if (i >= len) break;
    if (i === sepStart) return false;
    const keyStart = i;
    let c0 = text.charCodeAt(i);
    if (!isKeyStart(c0)) return false;
    let node: KeyTrie | undefined = fd.trie;
    while (i < len && isKeyChar(c0)) {
      node = node?.next[c0];
      c0 = text.charCodeAt(++i);
    }
    if (c0 !== 61) return false;
    const keyEnd = i;
    i++;
    let vtext: string;
    let form: ValueForm;
    if (text.charCodeAt(i) === 34) {
      const v = scanValue(text, i);
      if (v === undefined) return false;
      vtext = v.text;
      form = 'quoted';
      i = v.end;
    } else {
      const vs = i;
      while (i < len) {
        const c = text.charCodeAt(i);
        if (c === 32 || c === 9) break;
        if (c === 34) return false;
        i++;
      }
      if (i === vs) return false;
      vtext = text.slice(vs, i);
      form = 'bare';
    }
    const ki = node === undefined ? -1 : node.key;
    if (ki === -1) {
      const key = text.slice(keyStart, keyEnd);
      if (key.charCodeAt(0) === 120 && key.charCodeAt(1) === 95 && key.length > 2) continue; // x_ vendor key
      if (!def.extra || fields[key] !== undefined) return false;
      fields[key] = autoValue(vtext, form);
      continue;
    }
    if (stamp[ki] === gen) return false; // given twice
    stamp[ki] = gen;
    const kd = fd.keys[ki]!;
    if (fd.uint[ki] === 1) {
      if (form !== 'bare') return false;
      const v = parseUint(vtext);
      if (v === undefined) return false;
      fields[kd.name] = v;
      continue;
    }
    const v = typeValue(kd, vtext, form);
    if (v === undefined) return false;
    if (typeof v === 'object') (lists.v ??= {})[kd.name] = v;
    else fields[kd.name] = v;
  }
  // Presence, by stamps (the same rules as checkPresence).
  for (const k of fd.always) if (stamp[k] !== gen) return false;
  if (authors) for (const k of fd.withAuthors) if (stamp[k] !== gen) return false;
  for (const g of fd.oneOf) {
    let n = 0;
    for (const k of g) if (stamp[k] === gen) n++;
    if (n !== 1) return false;
  }
  for (const g of fd.anyOf) if (!g.some((k) => stamp[k] === gen)) return false;
  for (const r of fd.requires) {
    if (stamp[r.if] !== gen) continue;
    if (r.unless && r.unless.every(([k, vs]) => stamp[k] === gen && vs.some((v) => Number(fields[fd.keys[k]!.name]) === v))) continue;
    for (const k of r.then) if (stamp[k] !== gen) return false;
  }
  return true;
}

/** The header of a canonical trace among its first lines (for the model's visibility before the events run). */
export function readCanonicalHeader(lines: string[]): CanonicalHeader | undefined {
  const p = new CanonicalParser();
  for (const l of lines.slice(0, 400)) {
    p.parse(l, 0);
    if (p.header) return p.header;
  }
  return undefined;
}

/** Parses one line with both paths (for the differential test): the fast result and the Ohm result. */
export function parseBothWays(text: string, opts: { authors?: boolean } = {}): { fast: CanonRecord | undefined; slow: CanonRecord | undefined; fastDiag: ParseDiagnostic[]; slowDiag: ParseDiagnostic[] } {
  const mk = (fastPath: boolean): CanonicalParser => {
    const p = new CanonicalParser({ fastPath });
    if (opts.authors === false) p.parse('nvmeproof-canonical v1 authors=no', 0);
    return p;
  };
  const f = mk(true);
  const s = mk(false);
  return { fast: f.parse(text, 1), slow: s.parse(text, 1), fastDiag: f.diagnostics, slowDiag: s.diagnostics };
}
