import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { QemuParser } from '../src/parse/qemu.js';
import { FtraceParser } from '../src/parse/ftrace.js';
import { loadEventDefs } from '../src/parse/event-spec.js';
import { renderTemplate } from '../src/parse/template.js';
import { EXAMPLES, readLines } from './helpers.js';

const QEMU_TRACES = ['linux-boot-smp1.log', 'linux-boot-smp2.log', 'linux-mixed-io.log', 'ftrace/qemu-same-run.log'];

describe('QEMU corpus (real traces, QEMU 7.2)', () => {
  const defs = loadEventDefs('qemu');
  for (const name of QEMU_TRACES) {
    it(`${name}: every line is a known event, none malformed, and prints back to its raw text`, () => {
      const lines = readLines(path.join(EXAMPLES, name));
      const p = new QemuParser();
      let events = 0;
      lines.forEach((l, i) => {
        const r = p.parse(l, i + 1);
        expect(r, `line ${i + 1}: ${l}`).toBeDefined();
        events++;
        // The typed fields are the raw line: printing them through the template gives the line back.
        const body = renderTemplate(defs.get(r!.name)!.tpl.pieces, r!.fields);
        expect(`${r!.name} ${body}`.trimEnd()).toBe(l.trimEnd());
        expect(r!.line).toBe(i + 1);
      });
      expect(p.diagnostics).toEqual([]);
      expect(p.unknownEvents.size).toBe(0);
      expect(events).toBe(lines.length);
    });
  }

  it('types fields: decimal, hex, strings, and 64-bit values beyond 2^53 as bigint', () => {
    const p = new QemuParser();
    const r = p.parse("pci_nvme_io_cmd cid 4096 nsid 0x1 sqid 2 opc 0x2 opname 'NVME_NVM_CMD_READ'", 7)!;
    expect(r.fields).toEqual({ cid: 4096, nsid: 1, sqid: 2, opcode: 2, opname: 'NVME_NVM_CMD_READ' });
    const big = p.parse('pci_nvme_err_invalid_prplist_ent PRP list entry is not page aligned: 0xf000ff53f000ff53', 8)!;
    expect(big.fields.prplist).toBe(0xf000ff53f000ff53n);
    const ts = p.parse('1234@1700000000.123456:pci_nvme_mmio_read addr 0x1c size 4', 9)!;
    expect(ts.fields).toEqual({ addr: 0x1c, size: 4 });
    const str = p.parse("pci_nvme_err_aio cid 4622 err 'Operation not permitted' status 0x6", 10)!;
    expect(str.fields.errname).toBe('Operation not permitted');
  });

  it('reports a known event whose fields do not fit, with the column and what was expected', () => {
    const p = new QemuParser();
    expect(p.parse('pci_nvme_mmio_write addr 0x14 data 0xzz size 4', 3)).toBeUndefined();
    expect(p.diagnostics).toHaveLength(1);
    const d = p.diagnostics[0]!;
    expect(d.line).toBe(3);
    expect(d.col).toBe('pci_nvme_mmio_write addr 0x14 data 0x'.length + 1);
    expect(d.message).toMatch(/pci_nvme_mmio_write: expected a hexadecimal digit/);
  });

  it('counts unknown pci_nvme_* events as notes, and skips other lines', () => {
    const p = new QemuParser();
    expect(p.parse('pci_nvme_frobnicate 1 2 3', 1)).toBeUndefined();
    expect(p.parse('SeaBIOS (version 1.16.2-debian-1.16.2-1)', 2)).toBeUndefined();
    expect(p.diagnostics).toEqual([]);
    expect([...p.unknownEvents]).toEqual([['pci_nvme_frobnicate', 1]]);
    expect(p.otherLines).toBe(1);
  });

  it('flags a value out of its type range (u16 cid of 70000)', () => {
    const p = new QemuParser();
    expect(p.parse('pci_nvme_misc_cb cid 70000', 4)).toBeUndefined();
    expect(p.diagnostics[0]!.col).toBe('pci_nvme_misc_cb cid '.length + 1);
    expect(p.diagnostics[0]!.message).toMatch(/out of range/);
  });
});

describe('ftrace corpus (Linux 6.1 nvme tracepoints)', () => {
  it('linux-ftrace.txt: every record parses, headers are skipped', () => {
    const lines = readLines(path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt'));
    const p = new FtraceParser();
    let events = 0;
    lines.forEach((l, i) => {
      if (p.parse(l, i + 1)) events++;
    });
    expect(p.diagnostics).toEqual([]);
    expect(events).toBe(lines.filter((l) => !l.startsWith('#')).length);
    expect(events).toBe(202);
  });

  it('types the envelope and body of a record', () => {
    const p = new FtraceParser();
    const r = p.parse(
      '            nvme-120     [001] d.h1.     4.316791: nvme_complete_rq: nvme0: disk=nvme0n1, qid=2, cmdid=642, res=0x0, retries=0, flags=0x2, status=0x4080',
      135,
    )!;
    expect(r.name).toBe('nvme_complete_rq');
    expect(r.fields).toMatchObject({ task: 'nvme', pid: 120, cpu: 1, timestamp: '4.316791', disk: 'nvme0n1', qid: 2, cid: 642, status: 0x4080 });
    const s = p.parse(
      '    kworker/u4:1-25      [000] .....     2.203217: nvme_setup_cmd: nvme0: qid=0, cmdid=8, nsid=0, flags=0x0, meta=0x0, cmd=(nvme_admin_identify cns=1, ctrlid=0)',
      1,
    )!;
    expect(s.fields).toMatchObject({ task: 'kworker/u4:1', pid: 25, qid: 0, cid: 8, cmd: 'nvme_admin_identify', args: 'cns=1, ctrlid=0' });
  });
});
