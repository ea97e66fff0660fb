import type * as ohm from 'ohm-js';
import { grammarFromFile } from '../util/ohm.js';
import { loadEventDefs, type EventDef } from './event-spec.js';
import { qemuEventTable } from './qemu-wasm.js';
import { diagnose, slowMatch, MAX_OHM_DIAGNOSIS, type Fields } from './template.js';

/** NVMEPROOF_NO_FAST_PATH=1 parses every line with the Ohm grammars only (slow; for cross-checking). */
const FAST = process.env.NVMEPROOF_NO_FAST_PATH !== '1';
import type { LineParser, ParseDiagnostic, TraceRecord } from './record.js';

const PREFIX = 'pci_nvme_';

let envelope: ohm.Grammar | undefined;
function envelopeGrammar(): ohm.Grammar {
  envelope ??= grammarFromFile('qemu-trace.ohm');
  return envelope;
}

interface TrieNode {
  next: (TrieNode | undefined)[];
  def: EventDef | undefined;
  /** The consumer does not need this event's values: validate it, do not materialise it. */
  skip: boolean;
}

function buildTrie(defs: Map<string, EventDef>, wanted?: Set<string>): TrieNode {
  const root: TrieNode = { next: new Array(128).fill(undefined), def: undefined, skip: false };
  for (const [name, def] of defs) {
    let n = root;
    for (let i = PREFIX.length; i < name.length; i++) {
      const c = name.charCodeAt(i);
      n = n.next[c] ??= { next: new Array(128).fill(undefined), def: undefined, skip: false };
    }
    n.def = def;
    n.skip = wanted !== undefined && def.cls === 'info' && !wanted.has(name);
  }
  return root;
}

/**
 * QEMU `log` trace backend lines: `[PID@SEC.USEC:]pci_nvme_<event> <message>`.
 * The hot path never touches Ohm: name lookup, then the event's compiled template.
 */
export class QemuParser implements LineParser {
  readonly format = 'qemu' as const;
  readonly diagnostics: ParseDiagnostic[] = [];
  readonly unknownEvents = new Map<string, number>();
  otherLines = 0;
  skipped = 0;
  private readonly defs: Map<string, EventDef>;
  private readonly scratch = {};
  /** Built on first use: lines the WebAssembly typer took never reach the string parser. */
  private trieRoot?: TrieNode;
  private readonly wanted?: Set<string>;

  private readonly onOther?: (text: string, line: number) => void;

  /**
   * wanted: the events the consumer uses; others are only checked to fit their template (no allocation).
   * onOther: receives lines that are not QEMU events (e.g. the guest's serial console in `qemu ... 2>&1`).
   */
  constructor(opts: { wanted?: Set<string>; defs?: Map<string, EventDef>; onOther?: (text: string, line: number) => void } = {}) {
    this.defs = opts.defs ?? loadEventDefs('qemu');
    this.onOther = opts.onOther;
    this.wanted = opts.wanted;
  }

  /** True when the line is one whole, well-formed known event (no side effects: no counts, no diagnostics). */
  isWholeEvent(text: string): boolean {
    let pos = 0;
    const at = text.indexOf(':');
    if (at !== -1 && /^\d+@\d+\.\d+:/.test(text)) pos = at + 1;
    if (!text.startsWith(PREFIX, pos)) return false;
    const node = this.lookup(text, pos);
    if (node === undefined) return false;
    return node.def!.tpl.fits(text, this.nameEnd === text.length ? this.nameEnd : this.nameEnd + 1, this.scratch);
  }

  /** Where the last lookup()'s event name ended (the space after it, or the line end). */
  private nameEnd = 0;

  /**
   * Walks the event name starting at `pos` (at `pci_nvme_`) through the trie of known events: no substring,
   * no hashing on the hot path. Returns the node of a known event (nameEnd set), or undefined.
   */
  private lookup(text: string, pos: number): TrieNode | undefined {
    let node: TrieNode | undefined = (this.trieRoot ??= buildTrie(this.defs, this.wanted));
    let i = pos + PREFIX.length;
    const len = text.length;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 32) break;
      node = c < 128 ? node.next[c] : undefined;
      if (node === undefined) return undefined;
      i++;
    }
    this.nameEnd = i;
    return node.def !== undefined ? node : undefined;
  }

  /**
   * The record of a line the WebAssembly typer typed (parse/qemu-wasm.ts): rebuilt from its values, without
   * scanning the text again. Values are in template field order; NaN is a field of an absent optional group;
   * text fields are indexes into strs. Returns the record; the next record's values start at `at` plus
   * width(index).
   */
  decode(index: number, vals: Float64Array, at: number, strs: string[], text: string, line: number): TraceRecord {
    const b = this.builders()[index]!;
    return { name: b.def.name, fields: b.build(vals, at, strs), line, raw: text, cls: b.def.cls };
  }

  /** How many values an event of this index takes in the typed arrays. */
  width(index: number): number {
    return this.widths()[index]!;
  }

  private table?: EventDef[];
  /** The events in the WebAssembly typer's index order (parse/qemu-wasm.ts). */
  eventTable(): EventDef[] {
    return (this.table ??= qemuEventTable(this.defs));
  }

  private widthTable?: Int32Array;
  /** How many values each event (by typer index) takes in the typed arrays: its template's field count. */
  widths(): Int32Array {
    return (this.widthTable ??= Int32Array.from(this.eventTable(), (d) => d.tpl.fieldNames.length));
  }

  private builderTable?: FieldsBuilder[];
  /** Record builders by the typer's event index (parse/qemu-wasm.ts), made on first use. */
  private builders(): FieldsBuilder[] {
    return (this.builderTable ??= this.eventTable().map(fieldsBuilder));
  }

  parse(text: string, line: number): TraceRecord | undefined {
    let pos = 0;
    const c0 = text.charCodeAt(0);
    if (c0 >= 48 && c0 <= 57) {
      // PID@SEC.USEC: prefix
      const at = text.indexOf(':');
      if (at === -1 || text.indexOf('@') === -1 || text.indexOf('@') > at) return this.other(text, line);
      pos = at + 1;
    }
    if (!text.startsWith(PREFIX, pos)) return this.other(text, line);
    const node = this.lookup(text, pos);
    const def = node?.def;
    const len = text.length;
    const sp = def !== undefined ? (this.nameEnd === len ? -1 : this.nameEnd) : text.indexOf(' ', pos);
    const name = def !== undefined ? def.name : sp === -1 ? text.slice(pos) : text.slice(pos, sp);
    if (def === undefined) {
      if (/^pci_nvme_[a-z0-9_]+$/.test(name)) {
        this.unknownEvents.set(name, (this.unknownEvents.get(name) ?? 0) + 1);
        return undefined;
      }
      return this.malformed(text, line, pos);
    }
    // Events without arguments print their message after one space; an argument-less template may be empty.
    const bodyStart = sp === -1 ? text.length : sp + 1;
    if (FAST && node!.skip) {
      if (def.tpl.fits(text, bodyStart, this.scratch)) {
        this.skipped++;
        return undefined;
      }
    }
    const fields = FAST ? def.tpl.match(text, bodyStart) : slowMatch(def.tpl, text, bodyStart);
    if (fields === null) {
      const d = diagnose(def.tpl, text, bodyStart, name);
      this.diagnostics.push({ line, col: d.offset + 1, message: d.expected, raw: text });
      return undefined;
    }
    return { name, fields, line, raw: text, cls: def.cls };
  }

  private other(text: string, line: number): undefined {
    // Lines that look like trace lines but are garbled (e.g. truncated prefix) deserve a diagnostic.
    if (/^\d+@\d*\.?\d*:?\s*pci_nvm?e?/.test(text) || /^pci_nv/.test(text)) return this.malformed(text, line, 0);
    this.otherLines++;
    this.onOther?.(text, line);
    return undefined;
  }

  private malformed(text: string, line: number, _pos: number): undefined {
    if (text.length > MAX_OHM_DIAGNOSIS) {
      this.diagnostics.push({ line, col: 1, message: `not a QEMU trace line (${text.length} characters)`, raw: text });
      return undefined;
    }
    const m = envelopeGrammar().match(text);
    const col = m.failed() ? m.getRightmostFailurePosition() + 1 : 1;
    const exp = m.failed() ? (m.getExpectedText?.() ?? 'a pci_nvme_* event') : 'a known pci_nvme_* event';
    this.diagnostics.push({ line, col, message: `not a QEMU trace line: expected ${exp}`, raw: text });
    return undefined;
  }
}

interface FieldsBuilder {
  def: EventDef;
  build: (vals: Float64Array, at: number, strs: string[]) => Fields;
}

/**
 * An event's fields object from its typed values. For a template without optional groups it is one generated
 * object literal (every record of the event gets the same hidden class, and no key is added one at a time);
 * field names come from the templates, whose grammar allows identifiers only, and are quoted as JSON anyway.
 */
function fieldsBuilder(def: EventDef): FieldsBuilder {
  const names = def.tpl.fieldNames;
  const types = def.tpl.fieldTypes;
  const isText = (i: number): boolean => types[i] === 'str' || types[i] === 'word';
  if (def.tpl.pieces.some((p) => p.t === 'opt')) {
    return {
      def,
      build: (vals, at, strs) => {
        const fields: Fields = {};
        for (let i = 0; i < names.length; i++) {
          const v = vals[at + i]!;
          if (v === v) fields[names[i]!] = isText(i) ? strs[v]! : v;
        }
        return fields;
      },
    };
  }
  const props = names.map((n, i) => `${JSON.stringify(n)}: ${isText(i) ? `s[v[at + ${i}]]` : `v[at + ${i}]`}`);
  return { def, build: new Function('v', 'at', 's', `return { ${props.join(', ')} };`) as FieldsBuilder['build'] };
}
