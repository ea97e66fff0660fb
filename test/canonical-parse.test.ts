import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { CanonicalParser, loadCanonicalSpec, parseBothWays, readCanonicalHeader, type CanonRecord } from '../src/parse/canonical.js';
import { convertToCanonical } from '../src/convert/canonical.js';
import { ROOT, EXAMPLES, readLines } from './helpers.js';

/*
 * The canonical trace parser: the hand scanner (hot path) and the Ohm grammar generated from
 * specs/trace/canonical-events.yaml must agree on every line -- the corpus and thousands of corrupted lines --
 * and a line that does not fit is explained with its column and what was expected.
 */

const EXAMPLE = path.join(EXAMPLES, 'canonical', 'brokered-read-write.canon');
const AUTH_DIR = path.join(ROOT, 'conformance', 'authority');

function one(text: string, opts: { authors?: boolean } = {}): { r?: CanonRecord; diag: string[] } {
  const p = new CanonicalParser();
  if (opts.authors === false) p.parse('nvmeproof-canonical v1 authors=no', 0);
  const r = p.parse(text, 1);
  return { r, diag: p.diagnostics.map((d) => `${d.col}: ${d.message}`) };
}

const sorted = (o: object | undefined): object | undefined => (o ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) : o);
const ser = (r: CanonRecord | undefined): string | null =>
  r ? JSON.stringify({ n: r.name, f: sorted(r.fields), l: sorted(r.lists) }, (_k, v: unknown) => (typeof v === 'bigint' ? `n${v}` : v)) : null;

describe('canonical spec and grammar', () => {
  it('the spec loads and every event has keys, a description and its normalised kinds', () => {
    const spec = loadCanonicalSpec();
    expect(spec.version).toBe(1);
    expect(spec.events.size).toBeGreaterThanOrEqual(20);
    for (const [name, e] of spec.events) {
      expect(e.description.length, name).toBeGreaterThan(10);
      expect(e.normalisesTo.length, name).toBeGreaterThan(0);
      // every key of every event is described (`by` and `src` are described once, in the reader's guide)
      for (const k of e.keys.values()) if (k.name !== 'by' && k.name !== 'src') expect(k.description, `${name}.${k.name}`).toBeTruthy();
    }
  });

  it('docs/canonical-trace.md documents every event, key and header key', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'canonical-trace.md'), 'utf8');
    const spec = loadCanonicalSpec();
    for (const [name, e] of spec.events) {
      expect(doc, name).toContain(`### \`${name}\``);
      for (const k of e.keys.keys()) expect(doc, `${name}.${k}`).toContain(`| \`${k}\` |`);
    }
    for (const k of spec.header.keys()) expect(doc, `header ${k}`).toContain(`| \`${k}\` |`);
  });
});

describe('canonical lines', () => {
  it('types every value by its key', () => {
    const { r } = one('cmd by=manager sq=1 cid=2 opc=0x02 nsid=1 slba=8 nlb=63 prp1=0x7f013000 prp2=0x7f007000 len=32768 ledger=9 prp2_ledger=10');
    expect(r?.name).toBe('cmd');
    expect(r?.fields).toEqual({ by: 'manager', sq: 1, cid: 2, opc: 2, nsid: 1, slba: 8, nlb: 63, prp1: 0x7f013000, prp2: 0x7f007000, len: 32768, ledger: '9', prp2_ledger: '10' });
    const l = one('prp.list by=manager addr=0x7f007000 entries=0x7f014000,0x7f015000 next=0x7f008000');
    expect(l.r?.lists).toEqual({ entries: [0x7f014000, 0x7f015000] });
    expect(l.r?.fields.next).toBe(0x7f008000);
    expect(one('dma.policy by=kernel host_physical_user_visible=no direct_dma=blocked').r?.fields.host_physical_user_visible).toBe(0);
    expect(one('reg.write by=manager off=0x28 size=8 val=0xffffffffffff0000').r?.fields.val).toBe(0xffffffffffff0000n);
  });

  it('accepts a console timestamp, tabs, trailing spaces, quoted text and vendor keys', () => {
    expect(one('[    1.234567] db by=manager sq=1 val=3').r?.fields).toEqual({ by: 'manager', sq: 1, val: 3 });
    expect(one('db\tby=manager\tsq=1  val=3   ').r?.fields).toEqual({ by: 'manager', sq: 1, val: 3 });
    expect(one('device.error name=pci_nvme_err_x detail="a \\"b\\" c" limit=12 x_note="ignored here"').r?.fields).toEqual({ name: 'pci_nvme_err_x', detail: 'a "b" c', limit: 12 });
  });

  it('skips comments, blank lines and console noise; counts unknown events', () => {
    const p = new CanonicalParser();
    expect(p.parse('# a comment', 1)).toBeUndefined();
    expect(p.parse('', 2)).toBeUndefined();
    expect(p.parse('Linux version 6.1.0 (gcc 12)', 3)).toBeUndefined();
    expect(p.parse('bus.reset by=kernel why=x', 4)).toBeUndefined();
    expect(p.diagnostics).toEqual([]);
    expect(p.otherLines).toBe(1);
    expect([...p.unknownEvents]).toEqual([['bus.reset', 1]]);
  });

  it('explains a line that does not fit, at the right column', () => {
    expect(one('reg.write by=manager offset=0x14 val=1').diag).toEqual([
      "22: reg.write: unknown key 'offset' (known: by, off, val, size, reg, ledger, handle, src; vendor keys start with x_)",
    ]);
    expect(one('reg.write by=manager off=0x14 val=zz').diag[0]).toMatch(/^35: reg.write: val=zz is not an unsigned integer/);
    expect(one('reg.write by=manager off=0x14 val=1 off=2').diag[0]).toBe("37: reg.write: key 'off' given twice");
    expect(one('reg.write off=0x14 val=1').diag[0]).toMatch(/^25: reg.write: missing required key 'by'/);
    expect(one('reg.write off=0x14 val=1', { authors: false }).r?.fields).toEqual({ off: 0x14, val: 1 });
    expect(one('db by=manager sq=1 cq=1 val=3').diag[0]).toMatch(/give exactly one of sq, cq/);
    expect(one('cmd by=manager sq=1 cid=0 opc=0x02 nsid=1 slba=0 nlb=0 prp1=0x1000').diag[0]).toMatch(/prp1= needs len=/);
    expect(one('cmd by=manager sq=0 cid=0 opc=0x05 qid=1 qsize=63 pc=1 prp1=0x1000').diag).toEqual([]);
    expect(one('irq.wait by=provider handle="irq-io"').diag[0]).toMatch(/only text values may be quoted/);
    expect(one('reg.write by=boss off=0x14 val=1').diag[0]).toBe('14: reg.write: by=boss is not manager, provider or kernel');
    // syntax errors come from the Ohm grammar: where, and what it expected there
    expect(one('device.error name=x detail="unterminated').diag[0]).toMatch(/^\d+: device.error: expected /);
    expect(one('reg.write by=manager off=0x14 val').diag[0]).toMatch(/^\d+: reg.write: expected /);
  });

  it('reads the header: defaults, authors=no, registers=no, the version, and a header in the wrong place', () => {
    expect(readCanonicalHeader(['# c', 'nvmeproof-canonical v1 producer=x'])).toMatchObject({ version: 1, authors: true, registers: true, producer: 'x', jsonl: false });
    expect(readCanonicalHeader(['nvmeproof-canonical v1 authors=no registers=no lane=bounce-buffer dstrd=1'])).toMatchObject({ authors: false, registers: false, lane: 'bounce-buffer', dstrd: 1 });
    expect(readCanonicalHeader(['{"nvmeproof":"canonical","version":1,"authors":false}'])).toMatchObject({ authors: false, jsonl: true });
    const p = new CanonicalParser();
    p.parse('db by=manager sq=1 val=1', 1);
    p.parse('nvmeproof-canonical v2 producer=x', 2);
    p.parse('nvmeproof-canonical v1', 3);
    p.parse('nvmeproof-canonical producer=x', 4);
    expect(p.diagnostics.map((d) => `${d.line}: ${d.message}`)).toEqual([
      '2: the header must come before the first event',
      '2: canonical trace version v2 is not supported (this nvmeproof reads v1)',
      '3: a second header line (the first is line 2)',
      '4: header: expected "v"',
    ]);
  });
});

describe('canonical JSON Lines', () => {
  it('reads the same events from JSON objects', () => {
    const p = new CanonicalParser();
    p.parse('{"nvmeproof":"canonical","version":1,"producer":"x"}', 1);
    const r = p.parse('{"ev":"prp.list","by":"manager","addr":"0x7f007000","entries":["0x7f014000",4096],"ledger":10}', 2);
    expect(r?.fields).toEqual({ by: 'manager', addr: 0x7f007000, ledger: '10' });
    expect(r?.lists).toEqual({ entries: [0x7f014000, 4096] });
    const b = p.parse('{"ev":"dma.policy","by":"kernel","host_physical_user_visible":false}', 3);
    expect(b?.fields.host_physical_user_visible).toBe(0);
    expect(p.diagnostics).toEqual([]);
  });

  it('explains bad JSON Lines', () => {
    const p = new CanonicalParser();
    p.parse('{"ev":"reg.write", bad', 1);
    p.parse('{"ev":"reg.write","by":"manager","off":"0x14"}', 2);
    p.parse('{"ev":"reg.write","by":"manager","off":"0x14","val":1.5}', 3);
    p.parse('[1,2]', 4);
    p.parse('{"by":"manager"}', 5);
    p.parse('{"ev":"reg.write","by":"manager","off":20,"val":1,"bogus":1}', 6);
    expect(p.diagnostics.map((d) => `${d.line}:${d.col}`)).toEqual(['1:20', '2:46', '3:47', '5:1', '6:51']);
    expect(p.otherLines).toBe(1); // '[1,2]' is not a canonical line at all
    expect(p.diagnostics[1]!.message).toBe("reg.write: missing required key 'val'");
    expect(p.diagnostics[4]!.message).toMatch(/unknown key 'bogus'/);
  });

  it('the JSON Lines twin of the example holds the same events as the text form', () => {
    const parse = (file: string): string[] => {
      const p = new CanonicalParser();
      return readLines(file).flatMap((l, i) => {
        const r = p.parse(l, i + 1);
        return r ? [ser({ ...r, line: 0, raw: '' })!] : [];
      });
    };
    expect(parse(path.join(EXAMPLES, 'canonical', 'brokered-read-write.jsonl'))).toEqual(parse(EXAMPLE));
  });
});

describe('the fast path and the Ohm grammar agree', async () => {
  // The corpus: the example, every authority conformance case, and the bundled QEMU/ftrace traces converted.
  const files = [EXAMPLE, ...fs.readdirSync(AUTH_DIR).flatMap((d) => fs.readdirSync(path.join(AUTH_DIR, d)).filter((f) => f.endsWith('.canon')).map((f) => path.join(AUTH_DIR, d, f)))];
  const lines = new Set<string>();
  for (const f of files) for (const l of readLines(f)) lines.add(l);
  for (const t of ['linux-boot-smp1.log', 'ftrace/qemu-same-run.log', 'ftrace/linux-ftrace.txt']) {
    await convertToCanonical(path.join(EXAMPLES, t), (l) => void lines.add(l));
  }
  const corpus = [...lines];
  let seed = 20240607;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const chars = [' ', '"', '=', 'x', '0', ',', '\\', 'g', '\t', '_', '.', '-', 'A', '9', 'f', '#', '[', 'é'];
  const mutate = (l: string): string => {
    const i = rand(l.length + 1);
    switch (rand(6)) {
      case 0:
        return l.slice(0, i) + l.slice(i + 1);
      case 1:
        return l.slice(0, i) + chars[rand(chars.length)] + l.slice(i);
      case 2:
        return l.slice(0, i) + chars[rand(chars.length)] + l.slice(i + 1);
      case 3: {
        const parts = l.split(' ');
        const j = 1 + rand(Math.max(1, parts.length - 1));
        parts.splice(j, 0, parts[j] ?? 'x=1');
        return parts.join(' ');
      }
      case 4:
        return l.replace(/=(\S+)/, (_m, v: string) => `=${v}${v}`);
      default:
        return l.slice(0, i);
    }
  };
  const mutants = Array.from({ length: 6000 }, () => mutate(corpus[rand(corpus.length)]!));

  it(`on ${corpus.length} corpus lines and ${mutants.length} corrupted ones, with and without authors`, () => {
    let accepted = 0;
    let rejected = 0;
    const differ: string[] = [];
    for (const l of [...corpus, ...mutants]) {
      if (l.startsWith('{')) continue;
      for (const authors of [true, false]) {
        const r = parseBothWays(l, { authors });
        if (r.fast) accepted++;
        else if (r.fastDiag.length) rejected++;
        if (ser(r.fast) !== ser(r.slow) || r.fastDiag.length !== r.slowDiag.length) differ.push(`${JSON.stringify(l)} fast=${ser(r.fast)} slow=${ser(r.slow)}`);
      }
    }
    expect(differ.slice(0, 5)).toEqual([]);
    expect(accepted).toBeGreaterThan(3000);
    expect(rejected).toBeGreaterThan(3000);
  });

  it('every corpus event line parses (each with the authors setting of its trace)', () => {
    const bad: string[] = [];
    for (const f of files) {
      const p = new CanonicalParser();
      readLines(f).forEach((l, i) => p.parse(l, i + 1));
      bad.push(...p.diagnostics.map((d) => `${path.relative(ROOT, f)}:${d.line}: ${d.message}`));
    }
    expect(bad).toEqual([]);
  });
});
