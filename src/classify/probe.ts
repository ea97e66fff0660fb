import fs from 'node:fs';
import type * as ohm from 'ohm-js';
import { grammarFromFile } from '../util/ohm.js';
import { UserError, type Located } from '../util/errors.js';
import type { Facts, FactValue } from './condition.js';

/**
 * Raw live-probe captures (seed 004 Runtime Probe Protocol; syntax grammar/probe.ohm) turned into evidence
 * facts. Every fact remembers the line it was read from, so a classification can cite the probe verbatim.
 * The same kernel-message recognisers read the `kernel_log` column of evidence rows.
 */

export interface PciFunction {
  bdf: string;
  classCode: string; // 4 hex digits, e.g. 0108
  className: string;
  vendor: string;
  device: string;
  name: string;
  driver?: string;
  line: number;
}

export interface FactSource {
  fact: string;
  value: FactValue;
  line: number;
  text: string;
}

export interface ProbeCapture {
  file: string;
  meta: Record<string, string>;
  sections: { command: string; line: number; parsedAs: string }[];
  devices: PciFunction[];
  blockDevices: { name: string; tran: string; model: string; line: number }[];
  nvme: { node: string; line: number }[];
  facts: Facts;
  sources: FactSource[];
  notes: string[];
}

type Item =
  | { t: 'device'; bdf: string; classCode: string; className: string; vendor: string; device: string; name: string; at: number }
  | { t: 'driver'; name: string; at: number }
  | { t: 'entry'; name: string; at: number }
  | { t: 'kmsg'; kind: string; text: string; at: number; mb?: number; features?: string[] }
  | { t: 'param'; key: string; value?: string; at: number }
  | { t: 'row'; text: string; at: number }
  | { t: 'header'; text: string; at: number }
  | { t: 'kv'; key: string; value: string; at: number };

let grammar: ohm.Grammar | undefined;
let semantics: ohm.Semantics | undefined;

function probeGrammar(): ohm.Grammar {
  grammar ??= grammarFromFile('probe.ohm');
  return grammar;
}

function flat(children: ohm.Node[]): Item[] {
  return children.flatMap((c) => c.items() as Item[]);
}

function probeSemantics(): ohm.Semantics {
  if (semantics) return semantics;
  const s = probeGrammar().createSemantics();
  s.addOperation<Item[]>('items', {
    _nonterminal(...children) {
      return flat(children);
    },
    _iter(...children) {
      return flat(children);
    },
    _terminal() {
      return [];
    },
    lspciDevice(bdf, _sp, cls, _o, code, _c, name, _o2, ven, _colon, dev, _c2, _rest, _nl) {
      return [
        {
          t: 'device',
          bdf: bdf.sourceString.toLowerCase(),
          classCode: code.sourceString.toLowerCase(),
          className: cls.sourceString,
          vendor: ven.sourceString.toLowerCase(),
          device: dev.sourceString.toLowerCase(),
          name: name.sourceString,
          at: this.source.startIdx,
        },
      ];
    },
    driverInUse(_k, tok) {
      return [{ t: 'driver', name: tok.sourceString, at: this.source.startIdx }];
    },
    entry(_chars) {
      return [{ t: 'entry', name: this.sourceString, at: this.source.startIdx }];
    },
    kmsgLine(_hs, _ts, _hs2, kmsg, _nl) {
      return kmsg.items() as Item[];
    },
    kmsg(inner) {
      const kind = inner.ctorName;
      const at = this.source.startIdx;
      const text = this.sourceString;
      if (kind === 'commandLine') return [{ t: 'kmsg', kind, text, at }, ...(inner.items() as Item[])];
      if (kind === 'swiotlbMapped') {
        const m = /\((\d+)MB\)/.exec(text);
        return [{ t: 'kmsg', kind, text, at, mb: m ? Number(m[1]) : undefined }];
      }
      if (kind === 'memEncryptActive') {
        const features = inner.children[1]!.children.map((f) => f.sourceString.trim());
        return [{ t: 'kmsg', kind, text, at, features }];
      }
      return [{ t: 'kmsg', kind, text, at }];
    },
    param(key, _eq, value) {
      const v = value.children.length ? value.children[0]!.sourceString : undefined;
      return [{ t: 'param', key: key.sourceString, value: v, at: this.source.startIdx }];
    },
    lsblkHeader(_n, _rest, _nl) {
      return [{ t: 'header', text: this.sourceString.replace(/\n$/, ''), at: this.source.startIdx }];
    },
    lsblkRow(_t, _nl) {
      return [{ t: 'row', text: this.sourceString.replace(/\n$/, ''), at: this.source.startIdx }];
    },
    nvmeRow(_d, tok, _rest, _nl) {
      return [{ t: 'row', text: `/dev/${tok.sourceString}`, at: this.source.startIdx }];
    },
    keyValue(key, _c, _hs, value, _nl) {
      return [{ t: 'kv', key: key.sourceString.trim(), value: value.sourceString.trim(), at: this.source.startIdx }];
    },
  });
  semantics = s;
  return s;
}

/** Which body rule reads a command's output. */
const COMMANDS: { test: RegExp; rule: string; as: string }[] = [
  { test: /^lspci\b/, rule: 'lspciBody', as: 'lspci' },
  { test: /^ls\b.*\/sys\/kernel\/iommu_groups\/?\s*$/, rule: 'listingBody', as: 'iommu-groups' },
  { test: /^ls\b.*\/sys\/firmware\/acpi\/tables\/?\s*$/, rule: 'listingBody', as: 'acpi-tables' },
  { test: /^(sudo\s+)?(dmesg|journalctl\s+-k)\b/, rule: 'dmesgBody', as: 'kernel-log' },
  { test: /^cat\s+\/proc\/cmdline\s*$/, rule: 'cmdlineBody', as: 'cmdline' },
  { test: /^lsblk\b/, rule: 'lsblkBody', as: 'lsblk' },
  { test: /^(sudo\s+)?nvme\s+list\s*$/, rule: 'nvmeListBody', as: 'nvme-list' },
  { test: /^ethtool\s+-i\b/, rule: 'keyValueBody', as: 'ethtool' },
];

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): { line: number; col: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1 };
}

/** Kernel-message items -> facts (shared by probe captures and the kernel_log column of evidence rows). */
export function kernelFacts(items: { kind: string; text: string; line: number; mb?: number; features?: string[]; params?: { key: string; value?: string }[] }[], facts: Facts, sources: FactSource[]): void {
  const set = (fact: string, value: FactValue, line: number, text: string): void => {
    facts[fact] = value;
    sources.push({ fact, value, line, text });
  };
  for (const k of items) {
    switch (k.kind) {
      case 'dmarDisabled':
        set('kernel.iommu', 'disabled', k.line, k.text);
        break;
      case 'dmarEnabled':
      case 'amdViEnabled':
      case 'armSmmu':
        set('kernel.iommu', 'enabled', k.line, k.text);
        break;
      case 'pciDmaSwiotlb':
        set('swiotlb', 'active', k.line, k.text);
        break;
      case 'swiotlbMapped':
        set('swiotlb', 'active', k.line, k.text);
        if (k.mb !== undefined) set('swiotlb_mb', k.mb, k.line, k.text);
        break;
      case 'swiotlbEncrypted':
        set('mem_encrypt', 'active', k.line, k.text);
        set('swiotlb', 'active', k.line, k.text);
        break;
      case 'memEncryptActive':
        set('mem_encrypt', 'active', k.line, k.text);
        if (k.features?.length) set('mem_encrypt_kind', k.features.map((f) => f.toLowerCase().replace(/\s+/g, '-')).join(','), k.line, k.text);
        break;
      case 'commandLine':
        cmdlineFacts(k.params ?? [], k.line, k.text, set);
        break;
      default:
        break;
    }
  }
}

const IOMMU_OFF = new Set(['intel_iommu=off', 'amd_iommu=off', 'iommu=off']);

function cmdlineFacts(params: { key: string; value?: string }[], line: number, text: string, set: (f: string, v: FactValue, l: number, t: string) => void): void {
  const off = params.some((p) => IOMMU_OFF.has(`${p.key}=${p.value ?? ''}`));
  set('cmdline.iommu_off', off, line, text);
}

interface KmsgRec {
  kind: string;
  text: string;
  line: number;
  mb?: number;
  features?: string[];
  params?: { key: string; value?: string }[];
}

function kmsgRecords(items: Item[], starts: number[], base: number, lineBase: number): KmsgRec[] {
  const out: KmsgRec[] = [];
  for (const it of items) {
    if (it.t === 'kmsg') out.push({ kind: it.kind, text: it.text.replace(/\n$/, ''), line: lineBase + lineOf(starts, it.at - base).line - 1, mb: it.mb, features: it.features, params: [] });
    else if (it.t === 'param' && out.length && out[out.length - 1]!.kind === 'commandLine') out[out.length - 1]!.params!.push({ key: it.key, value: it.value });
  }
  return out;
}

/** Reads verbatim kernel log lines (an evidence row's kernel_log) into facts. Unrecognised lines are fine. */
export function factsFromKernelLines(lines: string[], firstLine = 1): { facts: Facts; sources: FactSource[]; problems: string[] } {
  const facts: Facts = {};
  const sources: FactSource[] = [];
  const problems: string[] = [];
  const text = lines.map((l) => l.replace(/\r?\n$/, '')).join('\n') + '\n';
  const m = probeGrammar().match(text, 'dmesgBody');
  if (m.failed()) {
    problems.push(`kernel_log does not parse: ${m.shortMessage}`);
    return { facts, sources, problems };
  }
  const items = probeSemantics()(m).items() as Item[];
  kernelFacts(kmsgRecords(items, lineStarts(text), 0, firstLine), facts, sources);
  return { facts, sources, problems };
}

export function readProbeFile(file: string, surfaces: SurfaceTables): ProbeCapture {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read probe capture: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseProbe(text, file, surfaces);
}

export function parseProbe(raw: string, file: string, surfaces: SurfaceTables): ProbeCapture {
  let text = raw.replace(/\r\n?/g, '\n');
  if (!text.endsWith('\n')) text += '\n';
  const g = probeGrammar();
  const starts = lineStarts(text);
  const m = g.match(text, 'file');
  if (m.failed()) {
    const p = lineOf(starts, m.getRightmostFailurePosition());
    throw new UserError(`${file}: not a probe capture`, [
      { file, ...p, message: `expected a \`# key: value\` header or a \`$ <command>\` line followed by its output (${m.getExpectedText()})` },
    ]);
  }
  const cap: ProbeCapture = { file, meta: {}, sections: [], devices: [], blockDevices: [], nvme: [], facts: {}, sources: [], notes: [] };
  const problems: Located[] = [];
  // Split into header lines and sections by walking the top-level CST.
  const root = m;
  const sem = g.createSemantics().addOperation<{ headers: { text: string; at: number }[]; sections: { cmd: string; at: number; bodyStart: number; bodyEnd: number }[] }>('split', {
    file(pre, sections) {
      const headers = pre.children.filter((c) => c.ctorName === 'header').map((h) => ({ text: h.sourceString.replace(/^#\s?/, '').replace(/\n$/, ''), at: h.source.startIdx }));
      const secs = sections.children.map((sec) => {
        const cmdLine = sec.children[0]!;
        const body = sec.children[1]!;
        return { cmd: cmdLine.sourceString.replace(/^\$ /, '').replace(/\n$/, '').trim(), at: cmdLine.source.startIdx, bodyStart: body.source.startIdx, bodyEnd: body.source.endIdx };
      });
      return { headers, sections: secs };
    },
  });
  const split = sem(root).split() as { headers: { text: string; at: number }[]; sections: { cmd: string; at: number; bodyStart: number; bodyEnd: number }[] };
  for (const h of split.headers) {
    const kv = /^([A-Za-z][A-Za-z0-9_ -]*):\s*(.*)$/.exec(h.text);
    if (kv) cap.meta[kv[1]!.trim().toLowerCase().replace(/[ _]+/g, '-')] = kv[2]!.trim();
  }
  const set = (fact: string, value: FactValue, line: number, t: string): void => {
    cap.facts[fact] = value;
    cap.sources.push({ fact, value, line, text: t });
  };
  let lspciSeen = false;
  for (const sec of split.sections) {
    const cmdLine = lineOf(starts, sec.at).line;
    const which = COMMANDS.find((c) => c.test.test(sec.cmd));
    if (!which) {
      cap.sections.push({ command: sec.cmd, line: cmdLine, parsedAs: 'unrecognised' });
      cap.notes.push(`line ${cmdLine}: \`${sec.cmd}\` is not a command of the probe protocol; its output is kept but not read`);
      continue;
    }
    cap.sections.push({ command: sec.cmd, line: cmdLine, parsedAs: which.as });
    const body = text.slice(sec.bodyStart, sec.bodyEnd);
    const bodyLine = cmdLine + 1;
    const bm = g.match(body, which.rule);
    if (bm.failed()) {
      const bs = lineStarts(body);
      const p = lineOf(bs, bm.getRightmostFailurePosition());
      problems.push({ file, line: bodyLine + p.line - 1, col: p.col, message: `output of \`${sec.cmd}\` does not parse: expected ${bm.getExpectedText()}` });
      continue;
    }
    const items = probeSemantics()(bm).items() as Item[];
    const bstarts = lineStarts(body);
    const at = (off: number): number => bodyLine + lineOf(bstarts, off).line - 1;
    const lineText = (off: number): string => {
      const l = lineOf(bstarts, off).line;
      return body.slice(bstarts[l - 1]!, (bstarts[l] ?? body.length + 1) - 1);
    };
    switch (which.as) {
      case 'lspci': {
        lspciSeen = true;
        let last: PciFunction | undefined;
        for (const it of items) {
          if (it.t === 'device') {
            last = { bdf: it.bdf, classCode: it.classCode, className: it.className, vendor: it.vendor, device: it.device, name: it.name, line: at(it.at) };
            cap.devices.push(last);
          } else if (it.t === 'driver' && last) last.driver = it.name;
        }
        break;
      }
      case 'iommu-groups': {
        const groups = items.filter((i) => i.t === 'entry' && /^[0-9]+$/.test(i.name)).length;
        set('iommu.groups', groups, cmdLine, groups ? `${groups} group(s)` : 'empty: no IOMMU groups');
        break;
      }
      case 'acpi-tables': {
        const names = items.filter((i): i is Extract<Item, { t: 'entry' }> => i.t === 'entry').map((i) => i.name);
        for (const t of ['DMAR', 'IVRS', 'IORT', 'VIOT']) {
          const hit = names.find((n) => new RegExp(`^${t}[0-9]*$`).test(n));
          set(`acpi.${t.toLowerCase()}`, hit ? 'present' : 'absent', cmdLine, hit ? `${hit} listed` : `no ${t} table listed (${names.join(' ') || 'empty'})`);
        }
        break;
      }
      case 'kernel-log':
        kernelFacts(kmsgRecords(items, bstarts, 0, bodyLine), cap.facts, cap.sources);
        break;
      case 'cmdline': {
        const params = items.filter((i): i is Extract<Item, { t: 'param' }> => i.t === 'param').map((p) => ({ key: p.key, value: p.value }));
        cmdlineFacts(params, bodyLine, lineText(0), set);
        break;
      }
      case 'lsblk': {
        const header = items.find((i) => i.t === 'header');
        const cols = header ? columnStarts((header as { text: string }).text) : [];
        for (const it of items) {
          if (it.t !== 'row') continue;
          const cells = cutColumns(it.text, cols);
          cap.blockDevices.push({ name: (cells.NAME ?? '').replace(/^[^a-z0-9]+/i, ''), tran: cells.TRAN ?? '', model: cells.MODEL ?? '', line: at(it.at) });
        }
        break;
      }
      case 'nvme-list':
        for (const it of items) if (it.t === 'row') cap.nvme.push({ node: it.text, line: at(it.at) });
        break;
      case 'ethtool':
        for (const it of items) if (it.t === 'kv' && it.key === 'driver') cap.notes.push(`line ${at(it.at)}: NIC driver ${it.value} (\`${sec.cmd}\`)`);
        break;
    }
  }
  if (problems.length) throw new UserError(`${file}: probe capture has ${problems.length} unreadable section(s)`, problems);
  if (lspciSeen) surfaceFacts(cap, surfaces);
  cap.facts.observed = true;
  return cap;
}

function columnStarts(header: string): { name: string; start: number }[] {
  const out: { name: string; start: number }[] = [];
  const re = /\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header))) out.push({ name: m[0], start: m.index });
  return out;
}

function cutColumns(row: string, cols: { name: string; start: number }[]): Record<string, string> {
  const out: Record<string, string> = {};
  cols.forEach((c, i) => {
    const end = i + 1 < cols.length ? cols[i + 1]!.start : row.length;
    out[c.name] = row.slice(c.start, end).trim();
  });
  return out;
}

/** How PCI functions are recognised as DMA-capable surfaces (specs/dma/classification.yaml `surfaces`). */
export interface SurfaceTables {
  classes: Record<string, string>;
  ids: Record<string, string>;
  virtual_function_pattern?: string;
}

export function surfaceKind(tables: SurfaceTables, classCode: string, id?: string): string | undefined {
  return tables.classes[classCode] ?? tables.classes[classCode.slice(0, 2)] ?? (id !== undefined ? tables.ids[id] : undefined);
}

function surfaceFacts(cap: ProbeCapture, tables: SurfaceTables): void {
  let n = 0;
  let vf = 0;
  for (const d of cap.devices) {
    if (surfaceKind(tables, d.classCode, `${d.vendor}:${d.device}`) === undefined) continue;
    n++;
    if (tables.virtual_function_pattern && d.name.includes(tables.virtual_function_pattern)) vf++;
  }
  cap.facts['surfaces.dma_capable'] = n;
  cap.facts['surfaces.sriov_vf'] = vf;
  const lines = cap.devices.filter((d) => surfaceKind(tables, d.classCode, `${d.vendor}:${d.device}`) !== undefined);
  cap.sources.push({ fact: 'surfaces.dma_capable', value: n, line: lines[0]?.line ?? 1, text: lines.map((d) => `${d.bdf} ${d.vendor}:${d.device}`).join(', ') || 'none' });
}
