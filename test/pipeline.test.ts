import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { EXAMPLES, readLines, tmpdir } from './helpers.js';

/** The two-thread reader must not change a single finding, line number or count. */
describe('pipelined reading', () => {
  it('gives the same result as one thread on a trace with faults, malformed lines and a truncated end', async () => {
    const lines = readLines(path.join(EXAMPLES, 'linux-mixed-io.log'));
    // Faults spread over the trace: a misaligned PRP1, a doorbell beyond its queue, a garbled line of an
    // event the model never needs (only the reading thread sees it), an unknown event, serial noise.
    const prp = lines.findIndex((l, i) => i > 5000 && l.startsWith('pci_nvme_map_prp'));
    lines[prp] = lines[prp]!.replace(/prp1 0x([0-9a-f]+)/, (_m, h: string) => `prp1 0x${(parseInt(h, 16) + 2).toString(16)}`);
    const db = lines.findIndex((l, i) => i > 9000 && l.startsWith('pci_nvme_mmio_write addr 0x1008 '));
    lines[db] = lines[db]!.replace(/data 0x[0-9a-f]+/, 'data 0x7ff');
    const ma = lines.findIndex((l, i) => i > 12000 && l.startsWith('pci_nvme_map_addr'));
    lines[ma] = lines[ma]!.replace(/len \d+/, 'len x');
    lines.splice(15000, 0, 'pci_nvme_some_new_event 1 2 3', '[    3.1] random serial noise');
    const dir = tmpdir();
    const f = path.join(dir, 'faults.log');
    fs.writeFileSync(f, lines.join('\n') + '\npci_nvme_mmio_read addr 0x');
    // The reference: every line parsed as a string on one thread.
    const one = await checkTrace(f, { pipeline: false, byteParsing: false });
    // Typed from the bytes, on one thread and on the reading thread.
    expect(await checkTrace(f, { pipeline: false })).toEqual(one);
    expect(await checkTrace(f, { pipeline: true })).toEqual(one);
    expect(one.findings.map((x) => x.rule)).toEqual(expect.arrayContaining(['prp-prp1-dword-aligned', 'queue-doorbell-in-range', 'trace-malformed-line']));
    expect(one.findings.some((x) => x.line === ma + 1 && x.rule === 'trace-malformed-line')).toBe(true);
    expect(one.findings.some((x) => x.line === lines.length + 1 && x.rule === 'trace-malformed-line')).toBe(true);
  });
});

describe('many traces over worker threads', () => {
  it('gives the same results, in the order given, as checking them one by one', async () => {
    const { checkMany } = await import('../src/check/pool.js');
    const files = ['linux-boot-smp1.log', 'ftrace/qemu-same-run.log', 'ftrace/linux-ftrace.txt', 'linux-boot-smp2.log'].map((f) => path.join(EXAMPLES, f));
    const threaded = await checkMany(files, {}, 2);
    const serial = await checkMany(files, {}, 1);
    expect(threaded).toEqual(serial);
    expect(threaded.map((r) => r.findings.filter((f) => f.severity === 'error').length)).toEqual([0, 4, 4, 0]);
  });
});
