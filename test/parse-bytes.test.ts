import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { QemuParser } from '../src/parse/qemu.js';
import { QEMU_MODEL_EVENTS } from '../src/normalise/qemu.js';
import { KeptLines, LineTyper, typedQemuBatches, toLineBatch } from '../src/read/qemu-batches.js';
import { openLines } from '../src/read/lines.js';
import { EXAMPLES, readLines, tmpdir } from './helpers.js';

/**
 * The byte parser types lines straight from the read buffer; the string parser is its reference. Whatever the
 * byte parser accepts, the string parser must accept with the same values; whatever it drops as a
 * well-formed unneeded event, the string parser must find well-formed. (Declining a line is always safe: the
 * string parser then handles it.)
 */

const CORPUS = [
  ...readLines(path.join(EXAMPLES, 'linux-boot-smp2.log')),
  ...readLines(path.join(EXAMPLES, 'linux-mixed-io.log')),
  ...readLines(path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log')),
];

type Verdict = { kind: 'typed'; name: string; fields: Record<string, unknown> } | { kind: 'skip' } | { kind: 'slow' };

const DECODER = new QemuParser();

/** One line through the WebAssembly typer, as a one-line chunk. */
function byBytes(t: LineTyper, line: string): Verdict {
  const { batch } = t.batch(Buffer.from(line, 'utf8'), true);
  expect(batch).toBeDefined();
  if (batch!.skipped === 1) return { kind: 'skip' };
  const e = batch!.events[0]!;
  if (e < 0) return { kind: 'slow' };
  const rebuilt = DECODER.decode(e, batch!.vals, 0, batch!.strs, line, 1);
  return { kind: 'typed', name: rebuilt.name, fields: rebuilt.fields };
}

/** Holds one line's byte verdict to the string parser's. Returns the verdict. */
const parsers = new Map<Set<string> | undefined, { bytes: LineTyper; text: QemuParser }>();

function agree(line: string, wanted?: Set<string>): Verdict {
  let p = parsers.get(wanted);
  if (!p) parsers.set(wanted, (p = { bytes: new LineTyper(wanted), text: new QemuParser({ wanted }) }));
  const v = byBytes(p.bytes, line);
  const s = p.text;
  s.skipped = 0;
  s.diagnostics.length = 0;
  const r = s.parse(line, 1);
  if (v.kind === 'typed') {
    expect(r, line).toBeDefined();
    expect({ name: r!.name, fields: r!.fields }, line).toEqual({ name: v.name, fields: v.fields });
  } else if (v.kind === 'slow') {
    // Declining is safe, but only for a reason: the string parser rejects it too, or needs a bigint or
    // non-ASCII text.
    if (r && !/[^\x00-\x7f]/.test(line)) expect(Object.values(r.fields).some((x) => typeof x === 'bigint'), line).toBe(true);
  } else if (v.kind === 'skip') {
    expect(r, line).toBeUndefined();
    expect(s.skipped, line).toBe(1);
    expect(s.diagnostics, line).toEqual([]);
  }
  return v;
}

let seed = 4242;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

describe('byte parser against the string parser', () => {
  it('types every line of the real traces, with the same values (nothing declined)', () => {
    let typed = 0;
    for (const l of CORPUS) {
      const v = agree(l);
      expect(v.kind, l).toBe('typed');
      typed++;
    }
    expect(typed).toBeGreaterThan(20000);
  });

  it('drops exactly the well-formed events the model does not need', () => {
    let skipped = 0;
    for (const l of CORPUS) if (agree(l, QEMU_MODEL_EVENTS).kind === 'skip') skipped++;
    expect(skipped).toBeGreaterThan(5000);
  });

  it('reads the PID@SEC.USEC: prefix as the string parser does', () => {
    const l = 'pci_nvme_mmio_write addr 0x14 data 0x460001 size 4';
    expect(agree(`12345@1700000000.123456:${l}`).kind).toBe('typed');
    for (const bad of [`12345:${l}`, `1:2@3:${l}`, `12345@1.5 ${l}`, `12345@1.5:`, `9@:${l}`]) agree(bad);
  });

  it('on corrupted lines: single-byte edits, non-ASCII text, numeric edges', () => {
    const alphabet = [' ', 'x', '0', 'z', '9', ',', '=', "'", '_', '-', ':', '@', ']', ')', '\t', 'é', '\u00ff', '\u2028', 'F', 'ff'];
    let declined = 0;
    let accepted = 0;
    for (let k = 0; k < 6000; k++) {
      const l = CORPUS[rnd(CORPUS.length)]!;
      const at = rnd(l.length + 1);
      const op = rnd(3);
      const c = alphabet[rnd(alphabet.length)]!;
      const bad = op === 0 ? l.slice(0, at) + l.slice(at + 1) : op === 1 ? l.slice(0, at) + c + l.slice(at) : l.slice(0, at) + c + l.slice(at + 1);
      const v = agree(bad, k % 2 ? QEMU_MODEL_EVENTS : undefined);
      if (v.kind === 'slow') declined++;
      else accepted++;
    }
    expect(declined).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(300);
    for (const l of [
      'pci_nvme_misc_cb cid 65535', 'pci_nvme_misc_cb cid 65536', 'pci_nvme_misc_cb cid 00065', 'pci_nvme_misc_cb cid -1',
      'pci_nvme_map_addr addr 0xffffffffffffffff len 18446744073709551615', 'pci_nvme_map_addr addr 0x1fffffffffffff len 9007199254740992',
      'pci_nvme_map_addr addr 0x1ffffffffffffffff len 1', 'pci_nvme_map_addr addr 0x1 len 18446744073709551616',
      'pci_nvme_setfeat_numq requested cq_count=-2147483648 sq_count=2147483647, responding with cq_count=1 sq_count=1',
      'pci_nvme_setfeat_numq requested cq_count=-2147483649 sq_count=1, responding with cq_count=1 sq_count=1',
      "pci_nvme_admin_cmd cid 1 sqid 0 opc 0x6 opname 'NVME_ADM_CMD_IDENTIFY'", "pci_nvme_admin_cmd cid 1 sqid 0 opc 0x6 opname 'NVMé'",
      'pci_nvme_mmio_write', 'pci_nvme_', 'pci_nvme_mmio_write ', 'pci_nvme_no_such_event 1 2',
    ]) {
      agree(l);
      agree(l, QEMU_MODEL_EVENTS);
    }
  });
});

describe('typed batches', () => {
  it('keep line numbers, CRLF, non-ASCII lines and a truncated last line exactly as the line reader does', async () => {
    const dir = tmpdir();
    const f = path.join(dir, 'mixed.log');
    const lines = readLines(path.join(EXAMPLES, 'linux-boot-smp1.log')).slice(0, 3000);
    lines.splice(100, 0, 'serial: héllo wörld', '', 'pci_nvme_mmio_write addr 0x14 data 0x460001 size 4\r');
    fs.writeFileSync(f, lines.join('\n') + '\npci_nvme_mmio_read addr 0x1c size 4');
    const byLine = new Map<number, string>();
    for await (const b of openLines(f).batches()) b.lines.forEach((l, i) => byLine.set(b.firstLine + i, l));
    let seen = 0;
    let last = 0;
    let unterminated = false;
    for await (const t of typedQemuBatches(f, { wanted: QEMU_MODEL_EVENTS })) {
      const b = toLineBatch(t);
      b.lines.forEach((l, i) => {
        expect(l).toBe(byLine.get(b.lineNos![i]!));
        seen++;
      });
      last = t.lastLine;
      unterminated = t.unterminated;
    }
    expect(last).toBe(byLine.size);
    expect(unterminated).toBe(true);
    expect(seen).toBeGreaterThan(500);
    expect(seen).toBeLessThan(byLine.size);
  });
  it('split a chunk with more lines than the typer holds at once (tiny lines) without losing or renumbering one', async () => {
    const dir = tmpdir();
    const f = path.join(dir, 'tiny.log');
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(i % 1000 === 7 ? `pci_nvme_misc_cb cid ${i % 65536}` : i % 2 ? 'x' : '');
    fs.writeFileSync(f, lines.join('\n'));
    for (const blocking of [false, true]) {
      const got: string[] = [];
      let last = 0;
      let batches = 0;
      for await (const t of typedQemuBatches(f, { blocking })) {
        const b = toLineBatch(t);
        b.lines.forEach((l, i) => got.push(`${b.lineNos![i]}:${t.events[i]! >= 0 ? 'typed ' : ''}${l}`));
        last = t.lastLine;
        batches++;
      }
      expect(last).toBe(lines.length);
      expect(got).toEqual(lines.map((l, i) => `${i + 1}:${l.startsWith('pci_nvme_') ? 'typed ' : ''}${l}`));
      // 100k lines in well under 1 MiB: only the typer's capacity (16384 lines a call) splits them this much.
      expect(batches).toBeGreaterThanOrEqual(7);
    }
  });
});

describe('blocking reads', () => {
  it('give the same lines and typed batches as the stream reader, across read boundaries and a line longer than a read', async () => {
    const dir = tmpdir();
    const f = path.join(dir, 'long.log');
    const lines = readLines(path.join(EXAMPLES, 'linux-mixed-io.log')).slice(0, 4000);
    // A multi-byte character right at the first 64 KiB boundary, a 150 KiB line, CRLF, and no final newline.
    let text = lines.slice(0, 1000).join('\n') + '\n';
    text += 'x'.repeat(65536 - Buffer.byteLength(text) - 1) + 'é\n';
    text += 'noise ' + 'y'.repeat(150_000) + '\r\n' + lines.slice(1000).join('\n');
    fs.writeFileSync(f, text);
    const collect = async (blocking: boolean): Promise<string[]> => {
      const out: string[] = [];
      for await (const b of openLines(f, blocking).batches()) out.push(...b.lines.map((l, i) => `${b.firstLine + i}:${l}`));
      return out;
    };
    const streamed = await collect(false);
    expect(await collect(true)).toEqual(streamed);
    const widths = new QemuParser().widths();
    const typed = async (blocking: boolean, transfer = false, views = false): Promise<unknown[]> => {
      const out: unknown[] = [];
      for await (const t of typedQemuBatches(f, { wanted: QEMU_MODEL_EVENTS, blocking, transfer, views })) {
        // Kept lines as bytes for another thread or (with views) in the read buffer, or as text for this one.
        expect(t.bytes !== undefined || t.text !== undefined).toBe(true);
        if (t.bytes !== undefined) expect(transfer || views).toBe(true);
        const b = toLineBatch(t);
        // Each line cut out on its own when asked for is the same text.
        const kept = new KeptLines(t);
        let at = 0;
        b.lines.forEach((l, i) => {
          expect(kept.line(i)).toBe(l);
          expect(kept.lasting(i)).toBe(l);
          // The values too: views of the typer's memory must hold until the next batch is asked for.
          const w = t.events[i]! >= 0 ? widths[t.events[i]!]! : 0;
          out.push([b.lineNos![i], l, t.events[i], [...t.vals.subarray(at, at + w)]]);
          at += w;
        });
        out.push(['batch end', t.lastLine, t.unterminated, t.skipped]);
      }
      return out.filter((x) => (x as unknown[])[0] !== 'batch end' || (x as unknown[])[2] === true);
    };
    const a = await typed(false);
    expect(await typed(true)).toEqual(a);
    expect(await typed(true, true)).toEqual(a);
    expect(await typed(true, false, true)).toEqual(a);
    expect(a.length).toBeGreaterThan(1000);
  });
});
