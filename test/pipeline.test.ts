import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { cli, EXAMPLES, readLines, tmpdir } from './helpers.js';
import { typedQemuBatches, toLineBatch, type FilePoint } from '../src/read/qemu-batches.js';
import { QEMU_MODEL_EVENTS } from '../src/normalise/qemu.js';
import { HANDOFF } from '../src/read/handoff.js';
import { buildTrace } from '../src/bench/trace.js';
import { QemuParser } from '../src/parse/qemu.js';
import { recordsOf } from '../src/parse/records-of.js';

/** Every record of the typed batches (line number, event, values, text), and the batches' counts. */
async function typedLines(f: string, opts: Parameters<typeof typedQemuBatches>[1]): Promise<{ lines: unknown[]; skipped: number; last: number }> {
  const lines: unknown[] = [];
  const parser = new QemuParser({ wanted: QEMU_MODEL_EVENTS });
  let skipped = 0;
  let last = 0;
  for await (const t of typedQemuBatches(f, { wanted: QEMU_MODEL_EVENTS, blocking: true, ...opts })) {
    recordsOf(toLineBatch(t), parser, (r) => lines.push([r.line, r.name, r.fields, r.raw]));
    skipped += t.skipped;
    last = t.lastLine;
  }
  return { lines: [...lines, ['diagnostics', parser.diagnostics, [...parser.unknownEvents], parser.otherLines]], skipped, last };
}

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
    // Standard input is read once, typed as it comes, after its head was held to tell its format.
    const strip = (json: string): unknown => (JSON.parse(json) as { files: { findings: { file?: string; related: { file?: string }[] }[] }[] }).files[0]!.findings.map((x) => ({ ...x, file: undefined, related: x.related.map((r) => ({ ...r, file: undefined })) }));
    const piped = cli(['check', '-', '--format', 'json'], fs.readFileSync(f));
    expect(strip(piped.stdout)).toEqual(strip(cli(['check', f, '--format', 'json']).stdout));
    expect(piped.code).toBe(1);
  });
});

describe('handing the rest of a file to the reading thread', () => {
  it('loses, repeats and renumbers no line, wherever the hand-over falls', async () => {
    const lines = readLines(path.join(EXAMPLES, 'linux-mixed-io.log'));
    lines.splice(7000, 0, 'pci_nvme_some_new_event 1 2 3', '[    3.1] random serial noise', 'pci_nvme_map_addr addr 0x len x');
    const f = path.join(tmpdir(), 'handoff.log');
    fs.writeFileSync(f, lines.join('\n') + '\npci_nvme_mmio_read addr 0x');
    const whole = await typedLines(f, {});
    expect(whole.lines.length).toBeGreaterThan(5000);
    // Hand over after the k-th chunk (64 KiB each): the first, the middle, the last but one; and never.
    for (const k of [1, 7, 15, 1000]) {
      let chunks = 0;
      let point: FilePoint | undefined;
      const head = await typedLines(f, { handoff: (next) => (++chunks === k ? ((point = next), true) : false) });
      const rest = point ? await typedLines(f, { from: () => point }) : { lines: [['diagnostics', [], [], 0]], skipped: 0, last: head.last };
      const h = head.lines.slice(0, -1);
      const r = rest.lines.slice(0, -1);
      expect([...h, ...r]).toEqual(whole.lines.slice(0, -1));
      // Problems found on either side of the hand-over are all found, once.
      const [, hd, hu, ho] = head.lines.at(-1) as [string, unknown[], [string, number][], number];
      const [, rd, ru, ro] = rest.lines.at(-1) as [string, unknown[], [string, number][], number];
      const [, wd, wu, wo] = whole.lines.at(-1) as [string, unknown[], [string, number][], number];
      expect([...hd, ...rd]).toEqual(wd);
      expect(ho + ro).toBe(wo);
      expect([...hu, ...ru].reduce((a, [, n]) => a + n, 0)).toBe(wu.reduce((a, [, n]) => a + n, 0));
      expect(head.skipped + rest.skipped).toBe(whole.skipped);
      expect(rest.last).toBe(whole.last);
      if (k < 1000) expect(point!.offset).toBeGreaterThan(0);
    }
    // Nothing to start from: no batches.
    expect((await typedLines(f, { from: () => undefined })).lines.length).toBe(1);
  });

  it('hands over only to a waiting reader, and a cancelled reader takes nothing', () => {
    const ctl = HANDOFF.create();
    expect(HANDOFF.give(ctl, { offset: 10, lineNo: 2 })).toBe(false);
    HANDOFF.cancel(ctl);
    expect(HANDOFF.take(ctl)).toBeUndefined();
  });

  it('checks a file the same wherever the reading thread takes over', async () => {
    // The hand-over point depends on when the reader has booted: early in a 300k-line trace, late in a small one.
    const big = path.join(tmpdir(), 'big.log');
    buildTrace(300_000, big);
    for (const f of [path.join(EXAMPLES, 'linux-mixed-io.log'), big]) {
      const one = await checkTrace(f, { pipeline: false });
      expect(await checkTrace(f, { pipeline: true })).toEqual(one);
    }
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
