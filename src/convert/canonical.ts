import path from 'node:path';
import { openLines } from '../read/lines.js';
import { detectFormat } from '../check/detect.js';
import { QemuParser } from '../parse/qemu.js';
import { FtraceParser } from '../parse/ftrace.js';
import { CanonicalParser, loadCanonicalSpec, type CanonRecord, type CanonSpec, type KeyDef } from '../parse/canonical.js';
import type { LineParser, ParseDiagnostic, TraceFormat, TraceRecord } from '../parse/record.js';
import { normaliseQemu, QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { normaliseFtrace } from '../normalise/ftrace.js';
import type { Ev } from '../normalise/event.js';
import { loadNvmeSpec } from '../specs/nvme.js';
import { UserError } from '../util/errors.js';

/**
 * Any trace -> the nvmeproof canonical trace (docs/canonical-trace.md), text or JSON Lines.
 *
 * QEMU and ftrace traces go through their own normalisers, and the normalised events are written back as
 * canonical events: a QEMU command and its detail lines (pci_nvme_io_cmd, pci_nvme_read, pci_nvme_map_prp, ...)
 * become one `cmd` line, the way a driver stack prints it. Each line keeps `src=` (the source lines it came from)
 * so findings on the canonical trace point back at the original. Such traces carry no authors (authors=no): their
 * authority rules are reported as not checked. Canonical input is re-emitted (text <-> JSON Lines).
 */

export interface ConvertOptions {
  jsonl?: boolean;
  /** Write src= (source line numbers); default true for QEMU/ftrace input. */
  src?: boolean;
  format?: TraceFormat;
  /** CAP.DSTRD for naming doorbell queues (default 0, QEMU's). */
  dstrd?: number;
}

export interface ConvertResult {
  format: TraceFormat;
  lines: number;
  events: number;
  written: number;
  diagnostics: ParseDiagnostic[];
  /** Normalised events with no canonical form (e.g. a detail line with no command to attach to). */
  dropped: number;
}

type Val = number | bigint | string | boolean | (number | bigint)[];
type Pairs = [string, Val | undefined][];

/** uint keys written in hex (register values, opcodes, statuses); addr keys always are. */
const HEX_KEYS = new Set(['off', 'opc', 'status', 'dw0', 'cdw11', 'data', 'vendor', 'device', 'class', 'lid', 'fid']);
/** Per event: register values are hex, doorbell values (indices) decimal. */
const HEX_EVENT_KEYS = new Set(['reg.write.val', 'reg.read.val']);
/** Byte-sized codes print with two hex digits, as the NVMe specification writes them (opc=0x06). */
const BYTE_KEYS = new Set(['opc', 'lid', 'fid']);
const HEX_LISTS = new Set(['entries']);

function hex(v: number | bigint, key?: string): string {
  const digits = v.toString(16);
  return '0x' + (key !== undefined && BYTE_KEYS.has(key) && digits.length < 2 ? '0' + digits : digits);
}

function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t') + '"';
}

function bare(s: string): boolean {
  return s.length > 0 && !/[\s"]/.test(s);
}

/** Writes canonical events as text or JSON Lines, each value in the form its key's type asks for. */
export class CanonicalWriter {
  private readonly spec: CanonSpec;
  constructor(
    private readonly jsonl: boolean,
    private readonly out: (line: string) => void,
    spec?: CanonSpec,
  ) {
    this.spec = spec ?? loadCanonicalSpec();
  }

  header(pairs: Pairs): void {
    this.write('nvmeproof-canonical', pairs, this.spec.header, true);
  }

  event(name: string, pairs: Pairs): void {
    const def = this.spec.events.get(name);
    if (!def) throw new Error(`no canonical event '${name}'`);
    this.write(name, pairs, def.keys, false);
  }

  comment(text: string): void {
    if (!this.jsonl) this.out(`# ${text}`);
  }

  private write(name: string, pairs: Pairs, keys: Map<string, KeyDef>, header: boolean): void {
    if (this.jsonl) {
      const o: Record<string, unknown> = header ? { nvmeproof: 'canonical', version: this.spec.version } : { ev: name };
      for (const [k, v] of pairs) if (v !== undefined) o[k] = this.json(keys.get(k), k, v, `${name}.${k}`);
      this.out(JSON.stringify(o));
      return;
    }
    let line = header ? `${name} v${this.spec.version}` : name;
    for (const [k, v] of pairs) if (v !== undefined) line += ` ${k}=${this.text(keys.get(k), k, v, header, `${name}.${k}`)}`;
    this.out(line);
  }

  private text(k: KeyDef | undefined, key: string, v: Val, header: boolean, qualified: string): string {
    if (Array.isArray(v)) return v.map((x) => (HEX_LISTS.has(key) ? hex(x) : String(x))).join(',');
    if (typeof v === 'boolean' || k?.type === 'bool') {
      const on = typeof v === 'boolean' ? v : Number(v) !== 0;
      return header ? (on ? 'yes' : 'no') : on ? '1' : '0';
    }
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (k?.type === 'str') return quote(String(v));
      return k?.type === 'addr' || HEX_KEYS.has(key) || HEX_EVENT_KEYS.has(qualified) ? hex(v, key) : String(v);
    }
    // Text: extra keys (device.error fields) are always quoted, so they stay text when read back.
    if (k === undefined || (k.type === 'str' && !bare(v))) return quote(v);
    return v;
  }

  private json(k: KeyDef | undefined, key: string, v: Val, qualified: string): unknown {
    if (Array.isArray(v)) return v.map((x) => (HEX_LISTS.has(key) ? hex(x) : typeof x === 'bigint' ? String(x) : x));
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (k?.type === 'bool') return Number(v) !== 0;
      if (k?.type === 'str') return String(v);
      if (k?.type === 'addr' || HEX_KEYS.has(key) || HEX_EVENT_KEYS.has(qualified)) return hex(v, key);
      return typeof v === 'bigint' || !Number.isSafeInteger(v) ? String(v) : v;
    }
    return v;
  }
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
}

const WORD = /^[A-Za-z0-9_.:/+-]+$/;
const RESERVED_DEVICE_KEYS = new Set(['name', 'detail', 'by', 'src']);

interface PendingCmd {
  src: number[];
  head: Pairs;
  details: Pairs;
  dsm: string[];
  prp?: { prp1: Val; prp2?: Val; len: number; first_len: number };
  rwBytes?: number;
  rwOp?: string;
  held: Ev[];
}

/**
 * Normalised events (QEMU, ftrace) -> canonical events. A command's details are merged into its `cmd` line
 * until the next event that is not a detail; device errors seen meanwhile follow the command line.
 */
export class EventsToCanonical {
  private pending?: PendingCmd;
  private mps = 0;
  private readonly stride: number;
  written = 0;
  dropped = 0;

  constructor(
    private readonly w: CanonicalWriter,
    private readonly opts: { src: boolean; dstrd: number },
  ) {
    this.stride = 4 << opts.dstrd;
  }

  private src(lines: number[]): Val | undefined {
    return this.opts.src ? [...new Set(lines)] : undefined;
  }

  private emit(name: string, pairs: Pairs, lines: number[]): void {
    this.w.event(name, [...pairs, ['src', this.src(lines)]]);
    this.written++;
  }

  consume(e: Ev): void {
    const f = e.f;
    if (e.kind.startsWith('cmd.') && e.kind !== 'cmd.submit' && e.kind !== 'cmd.complete') {
      if (!this.pending) {
        this.dropped++;
        this.w.comment(`line ${e.line}: ${e.kind} with no command to attach it to: ${e.raw}`);
        return;
      }
      this.detail(this.pending, e);
      return;
    }
    if (e.kind === 'device.error' && this.pending) {
      this.pending.held.push(e);
      return;
    }
    this.flush();
    switch (e.kind) {
      case 'reg.write':
        if (num(f.offset) === 0x14) this.mps = (num(f.value) >>> 7) & 0xf;
        return this.emit('reg.write', [['off', f.offset], ['val', f.value], ['size', f.size]], [e.line]);
      case 'reg.read':
        return this.emit('reg.read', [['off', f.offset], ['size', f.size]], [e.line]);
      case 'host.doorbell': {
        const offset = num(f.offset);
        const index = Math.floor((offset - 0x1000) / this.stride);
        const q = index & 1 ? 'cq' : 'sq';
        return this.emit('db', [[q, index >> 1], ['val', f.value], ['off', offset]], [e.line]);
      }
      case 'ctrl.reset':
        return this.emit('ctrl.reset', [['why', f.why !== undefined && WORD.test(String(f.why)) ? String(f.why) : undefined]], [e.line]);
      case 'cmd.submit': {
        const name = f.opname !== undefined && WORD.test(String(f.opname)) ? String(f.opname) : undefined;
        this.pending = { src: [e.line], head: [['sq', f.sqid], ['cid', f.cid], ['opc', f.opc], ['name', name], ['nsid', f.nsid]], details: [], dsm: [], held: [] };
        return;
      }
      case 'cmd.complete':
        return this.emit('cqe', [['cq', f.cqid], ['sq', f.sqid], ['cid', f.cid], ['status', f.status], ['dw0', f.dw0]], [e.line]);
      case 'irq':
        return this.emit('irq', [['mode', f.mode], ['vector', f.vector]], [e.line]);
      case 'device.error':
        return this.deviceError(e);
      default:
        this.dropped++;
        return;
    }
  }

  private deviceError(e: Ev): void {
    const { event, ...rest } = e.f;
    const name = String(event);
    const at = e.raw.indexOf(name);
    const body = at >= 0 ? e.raw.slice(at + name.length).trim() : '';
    const pairs: Pairs = [['name', name]];
    for (const [k, v] of Object.entries(rest)) {
      if (v === undefined || typeof v === 'boolean') continue;
      pairs.push([RESERVED_DEVICE_KEYS.has(k) || !/^[a-z][a-z0-9_]*$/.test(k) || k.startsWith('x_') ? `f_${k.replace(/[^a-z0-9_]/g, '_')}` : k, v]);
    }
    if (body) pairs.push(['detail', body]);
    this.emit('device.error', pairs, [e.line]);
  }

  private detail(p: PendingCmd, e: Ev): void {
    const f = e.f;
    p.src.push(e.line);
    const d = p.details;
    switch (e.kind) {
      case 'cmd.create_cq':
        d.push(['qid', f.cqid], ['qsize', f.qsize], ['pc', f.pc], ['ien', f.ien], ['vector', f.vector]);
        if (f.addr !== undefined) p.prp = { prp1: f.addr as Val, len: NaN, first_len: NaN };
        return;
      case 'cmd.create_sq':
        d.push(['qid', f.sqid], ['cqid', f.cqid], ['qsize', f.qsize], ['pc', f.pc], ['qprio', f.qprio]);
        if (f.addr !== undefined) p.prp = { prp1: f.addr as Val, len: NaN, first_len: NaN };
        return;
      case 'cmd.delete_sq':
      case 'cmd.delete_cq':
        d.push(['qid', f.qid]);
        return;
      case 'cmd.identify':
        d.push(['cns', f.cns], ['cntid', f.cntid], ['csi', f.csi]);
        return;
      case 'cmd.get_log':
        d.push(['lid', f.lid]);
        if (f.len !== undefined && !p.prp) p.prp = { prp1: undefined as unknown as Val, len: num(f.len), first_len: NaN };
        return;
      case 'cmd.setfeat':
        d.push(['fid', f.fid], ['cdw11', f.cdw11]);
        return;
      case 'cmd.dbbuf':
        if (f.dbs !== undefined || f.eis !== undefined) p.prp = { prp1: f.dbs as Val, prp2: f.eis as Val, len: NaN, first_len: NaN };
        return;
      case 'cmd.rw':
        d.push(['slba', f.slba], ['nlb', f.blocks === undefined ? undefined : num(f.blocks) - 1]);
        p.rwOp = String(f.op);
        if (f.bytes !== undefined) p.rwBytes = num(f.bytes);
        return;
      case 'cmd.prp':
        p.prp = { prp1: f.prp1 as Val, prp2: f.prp2 as Val | undefined, len: num(f.len), first_len: num(f.first_len) };
        return;
      case 'cmd.dsm_range':
        p.dsm.push(`${num(f.slba)}+${num(f.blocks)}`);
        return;
      default:
        // cmd.numq is derived from cdw11 again; cmd.sgl has no canonical form (the models do not use it).
        return;
    }
  }

  /** Writes the pending command line (and the device errors that came with it). */
  flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const pairs: Pairs = [...p.head, ...p.details];
    if (p.dsm.length) pairs.push(['dsm', p.dsm.join(',')]);
    const prp = p.prp;
    let len: number | undefined;
    if (prp) {
      if (prp.prp1 !== undefined) pairs.push(['prp1', prp.prp1]);
      if (prp.prp2 !== undefined) pairs.push(['prp2', prp.prp2]);
      if (Number.isFinite(prp.len)) {
        len = prp.len;
        pairs.push(['len', prp.len]);
        const page = 4096 * 2 ** this.mps;
        const expected = Math.min(prp.len, page - (num(prp.prp1) % page));
        if (Number.isFinite(prp.first_len) && prp.first_len !== expected) pairs.push(['first_len', prp.first_len]);
      }
    }
    if (p.rwBytes !== undefined && p.rwOp !== 'write_zeroes') {
      if (len === undefined) pairs.push(['len', p.rwBytes]);
      else if (p.rwBytes !== len) pairs.push(['count', p.rwBytes]);
    }
    this.emit('cmd', pairs, p.src);
    for (const e of p.held) this.deviceError(e);
  }
}

/** The canonical key order of one record (spec order), for re-emitting canonical input. */
function recordPairs(r: CanonRecord, spec: CanonSpec, keepSrc: boolean): Pairs {
  const def = spec.events.get(r.name)!;
  const out: Pairs = [];
  const seen = new Set<string>();
  for (const k of def.keys.keys()) {
    if (k === 'src' && !keepSrc) continue;
    const v = r.lists?.[k] ?? r.fields[k];
    if (v !== undefined) out.push([k, v]);
    seen.add(k);
  }
  for (const [k, v] of Object.entries(r.fields)) if (!seen.has(k)) out.push([k, v]);
  return out;
}

/** Converts one trace file (or '-') to canonical lines, handed to `out` one at a time. */
export async function convertToCanonical(name: string, out: (line: string) => void, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const source = openLines(name);
  const spec = loadCanonicalSpec();
  const w = new CanonicalWriter(opts.jsonl ?? false, out, spec);
  let parser: LineParser | undefined;
  let format: TraceFormat | undefined = opts.format;
  let conv: EventsToCanonical | undefined;
  let lines = 0;
  let events = 0;
  let written = 0;
  const nvme = loadNvmeSpec();
  const wantedQemu = new Set([...QEMU_MODEL_EVENTS, 'pci_nvme_irq_msix', 'pci_nvme_irq_pin']);
  const start = (fmt: TraceFormat): void => {
    if (fmt === 'qemu') parser = new QemuParser({ wanted: wantedQemu });
    else if (fmt === 'ftrace') parser = new FtraceParser();
    else if (fmt === 'canonical') parser = new CanonicalParser();
    else throw new UserError(`${source.name}: ${fmt} input cannot be converted to a canonical trace (QEMU, ftrace and canonical traces can)`);
    if (fmt !== 'canonical') {
      const header: Pairs = [
        ['producer', 'nvmeproof-convert'],
        ['source', fmt],
        ['authors', false],
        ['registers', fmt === 'ftrace' ? false : undefined],
        ['file', name === '-' ? undefined : path.basename(name)],
      ];
      w.header(header);
      written++;
      conv = new EventsToCanonical(w, { src: opts.src ?? true, dstrd: opts.dstrd ?? 0 });
    }
  };
  const canonicalHeader = (p: CanonicalParser): void => {
    const h = p.header!;
    w.header([
      ['producer', h.producer],
      ['source', h.source],
      ['authors', h.authors ? undefined : false],
      ['registers', h.registers ? undefined : false],
      ['lane', h.lane],
      ['dstrd', h.dstrd],
      ['shape', h.shape],
      ['file', h.file],
    ]);
    written++;
  };
  let headerDone = false;
  for await (const b of source.batches()) {
    if (!parser) {
      format ??= detectFormat(b.lines);
      if (!format) throw new UserError(`${source.name}: not a QEMU, ftrace or canonical NVMe trace (use --input-format to say which)`);
      start(format);
    }
    const p = parser!;
    for (let i = 0; i < b.lines.length; i++) {
      const no = b.firstLine + i;
      const r = p.parse(b.lines[i]!, no);
      if (p instanceof CanonicalParser && !headerDone && p.header) {
        canonicalHeader(p);
        headerDone = true;
      }
      if (!r) continue;
      events++;
      if (p instanceof CanonicalParser) {
        if (!headerDone) {
          // No header line: the defaults, said explicitly.
          w.header([['producer', 'unknown']]);
          written++;
          headerDone = true;
        }
        w.event(r.name, recordPairs(r as CanonRecord, spec, opts.src ?? true));
        written++;
        continue;
      }
      const n = format === 'qemu' ? normaliseQemu(r as TraceRecord) : normaliseFtrace(r as TraceRecord, nvme);
      if (!n) continue;
      for (const e of Array.isArray(n) ? n : [n]) conv!.consume(e);
    }
    lines = b.firstLine + b.lines.length - 1;
  }
  conv?.flush();
  if (!parser) throw new UserError(`${source.name}: empty input`);
  return {
    format: format!,
    lines,
    events,
    written: written + (conv?.written ?? 0),
    diagnostics: parser.diagnostics,
    dropped: conv?.dropped ?? 0,
  };
}
