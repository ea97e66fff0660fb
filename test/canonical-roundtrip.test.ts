import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { convertToCanonical } from '../src/convert/canonical.js';
import { CanonicalParser } from '../src/parse/canonical.js';
import { loadCatalog } from '../src/rules/catalog.js';
import type { Finding } from '../src/findings/finding.js';
import { cli, EXAMPLES, ROOT, readLines, tmpdir } from './helpers.js';

/*
 * QEMU / ftrace -> canonical -> check gives the same wire findings as checking the original: the same rules, with
 * the same severities, on the canonical lines whose src= names the original line, with the same message (device
 * events excepted: their message quotes the line, which is a canonical line now). Text and JSON Lines.
 */

const catalog = loadCatalog();
const dir = tmpdir();

async function roundTrip(trace: string, jsonl: boolean): Promise<{ original: Finding[]; converted: Finding[]; src: Map<number, number[]> }> {
  const out: string[] = [];
  const res = await convertToCanonical(trace, (l) => void out.push(l), { jsonl });
  expect(res.diagnostics, `${trace} converts without diagnostics`).toEqual([]);
  const file = path.join(dir, `${path.basename(trace)}.${jsonl ? 'jsonl' : 'canon'}`);
  fs.writeFileSync(file, out.join('\n') + '\n');
  const src = new Map<number, number[]>();
  const p = new CanonicalParser();
  out.forEach((l, i) => {
    const r = p.parse(l, i + 1);
    if (r?.lists?.src) src.set(i + 1, r.lists.src.map(Number));
  });
  const original = (await checkTrace(trace, { catalog, pipeline: false })).findings;
  const converted = (await checkTrace(file, { catalog })).findings;
  return { original, converted, src };
}

function compare(original: Finding[], converted: Finding[], src: Map<number, number[]>): string[] {
  const problems: string[] = [];
  const used = new Set<number>();
  for (const o of original) {
    const j = converted.findIndex(
      (c, i) => !used.has(i) && c.rule === o.rule && c.severity === o.severity && (src.get(c.line) ?? []).includes(o.line) && (o.source === 'device' || c.message === o.message),
    );
    if (j < 0) problems.push(`missing after conversion: ${o.rule}@${o.line} ${o.message}`);
    else used.add(j);
  }
  converted.forEach((c, i) => {
    if (!used.has(i)) problems.push(`only after conversion: ${c.rule}@${c.line} (src ${String(src.get(c.line))}) ${c.message}`);
  });
  return problems;
}

const REAL = ['linux-boot-smp1.log', 'linux-boot-smp2.log', 'linux-mixed-io.log', 'ftrace/qemu-same-run.log', 'ftrace/linux-ftrace.txt'].map((f) => path.join(EXAMPLES, f));

describe('convert then check: the same wire findings', () => {
  for (const trace of REAL) {
    for (const jsonl of [false, true]) {
      it(`${path.relative(ROOT, trace)} (${jsonl ? 'JSON Lines' : 'text'})`, async () => {
        const { original, converted, src } = await roundTrip(trace, jsonl);
        expect(compare(original, converted, src)).toEqual([]);
        if (trace.endsWith('qemu-same-run.log') || trace.endsWith('linux-ftrace.txt')) expect(original.filter((f) => f.severity === 'error').length).toBe(4);
      });
    }
  }

  // Every wire conformance trace, conforming or violating (a line that does not parse has no canonical form).
  const wire = path.join(ROOT, 'conformance', 'wire');
  const traces = fs
    .readdirSync(wire)
    .filter((d) => d !== 'trace-malformed-line')
    .flatMap((d) => fs.readdirSync(path.join(wire, d)).filter((f) => /\.(log|txt)$/.test(f)).map((f) => path.join(wire, d, f)));
  it(`every wire conformance trace (${traces.length})`, async () => {
    const problems: string[] = [];
    for (const t of traces) {
      const { original, converted, src } = await roundTrip(t, false);
      problems.push(...compare(original, converted, src).map((p) => `${path.relative(ROOT, t)}: ${p}`));
    }
    expect(problems).toEqual([]);
  });
});

describe('nvmeproof convert', () => {
  it('writes a canonical trace that says where it came from and that it carries no authors', () => {
    const r = cli(['convert', path.join(EXAMPLES, 'linux-boot-smp1.log')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('nvmeproof-canonical v1 producer=nvmeproof-convert source=qemu authors=no file=linux-boot-smp1.log');
    // a QEMU command and its detail lines are one cmd line
    expect(lines).toContain('cmd sq=0 cid=0 opc=0x06 name=NVME_ADM_CMD_IDENTIFY cns=1 cntid=0 csi=0 prp1=0x1efe4000 prp2=0x0 len=4096 src=31,32,34');
    expect(r.stderr).toMatch(/linux-boot-smp1.log: 3323 lines, \d+ qemu events -> \d+ canonical lines/);
  });

  it('ftrace: registers=no; --no-src; -o FILE; --jsonl', () => {
    const out = path.join(dir, 'ftrace.jsonl');
    const r = cli(['convert', '--jsonl', '--no-src', '-o', out, path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt')]);
    expect(r.code).toBe(0);
    const lines = readLines(out);
    expect(JSON.parse(lines[0]!)).toEqual({ nvmeproof: 'canonical', version: 1, producer: 'nvmeproof-convert', source: 'ftrace', authors: false, registers: false, file: 'linux-ftrace.txt' });
    expect(lines.some((l) => l.includes('"src"'))).toBe(false);
    expect(cli(['check', out]).code).toBe(1); // the four deliberate errors of that run
  });

  it('canonical text -> JSON Lines -> text keeps every event', () => {
    const a = path.join(dir, 'a.jsonl');
    const b = path.join(dir, 'b.canon');
    expect(cli(['convert', '--jsonl', '-o', a, path.join(EXAMPLES, 'canonical', 'brokered-read-write.canon')]).code).toBe(0);
    expect(cli(['convert', '-o', b, a]).code).toBe(0);
    // the same events with the same values (spelling may differ: key order, hex or decimal)
    const events = (f: string): string[] => {
      const p = new CanonicalParser();
      const sort = (o: object | undefined): unknown => (o ? Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y))) : o);
      return readLines(f).flatMap((l, i) => {
        const r = p.parse(l, i + 1);
        return r ? [JSON.stringify({ n: r.name, f: sort(r.fields), l: sort(r.lists) }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))] : [];
      });
    };
    expect(events(b)).toEqual(events(path.join(EXAMPLES, 'canonical', 'brokered-read-write.canon')));
    expect(events(b).length).toBe(130);
  });

  it('reports lines it cannot convert and exits 1; bad input exits 2', () => {
    const r = cli(['convert', path.join(ROOT, 'conformance', 'wire', 'trace-malformed-line', 'invalid-garbled-line.log')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid-garbled-line.log:61:\d+: pci_nvme_irq_msix: expected/);
    const s = cli(['convert', path.join(EXAMPLES, 'serial', 'qemu-cloud-shapes.serial.txt')]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/serial input cannot be converted/);
    expect(cli(['convert', path.join(dir, 'missing.log')]).code).toBe(2);
  });
});
