import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { QemuParser } from '../src/parse/qemu.js';
import { FtraceParser } from '../src/parse/ftrace.js';
import { checkTrace } from '../src/check/run.js';
import { EXAMPLES, readLines, tmpdir } from './helpers.js';

/** Garbled input must never crash or hang the parsers or the model; every line is accounted for. */
function rng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return s % n;
  };
}

function garble(lines: string[], count: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const l = lines[r(lines.length)]!;
    switch (r(8)) {
      case 0:
        out.push(l.slice(0, r(l.length + 1))); // truncation
        break;
      case 1:
        out.push(Array.from({ length: r(200) }, () => String.fromCharCode(r(256))).join('').replace(/[\r\n]/g, ' ')); // random bytes (one line)
        break;
      case 2:
        out.push(l + 'x'.repeat(r(3) === 0 ? 200_000 : 50)); // huge or overlong line
        break;
      case 3:
        out.push(l.replace(/\d/g, () => String(r(10))).replace(/0x[0-9a-f]+/, '0x' + 'f'.repeat(1 + r(40)))); // values out of range
        break;
      case 4:
        out.push(l.slice(0, r(l.length)) + '\u0000\u001b[2J' + l.slice(r(l.length))); // control characters
        break;
      case 5:
        out.push(l.split(' ').reverse().join(' ')); // shuffled fields
        break;
      case 6:
        out.push('pci_nvme_' + l.slice(r(l.length))); // odd names
        break;
      default:
        out.push(l);
    }
  }
  return out;
}

describe('garbled input', () => {
  const qemu = readLines(path.join(EXAMPLES, 'linux-mixed-io.log'));
  const ftrace = readLines(path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt'));

  it('QEMU parser: 20,000 garbled lines, each a record, a diagnostic, an unknown event or another line', () => {
    const lines = garble(qemu, 20_000, 1);
    const p = new QemuParser();
    const t0 = Date.now();
    let records = 0;
    lines.forEach((l, i) => {
      if (p.parse(l, i + 1)) records++;
    });
    const unknown = [...p.unknownEvents.values()].reduce((a, b) => a + b, 0);
    expect(records + p.diagnostics.length + unknown + p.otherLines).toBe(lines.length);
    expect(p.diagnostics.length).toBeGreaterThan(1000);
    for (const d of p.diagnostics) {
      expect(d.col).toBeGreaterThanOrEqual(1);
      expect(d.col).toBeLessThanOrEqual(d.raw.length + 1);
    }
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('ftrace parser: 5,000 garbled lines', () => {
    const lines = garble(ftrace, 5_000, 2);
    const p = new FtraceParser();
    let records = 0;
    lines.forEach((l, i) => {
      if (p.parse(l, i + 1)) records++;
    });
    const unknown = [...p.unknownEvents.values()].reduce((a, b) => a + b, 0);
    expect(records + p.diagnostics.length + unknown + p.otherLines).toBe(lines.length);
  });

  it('full check of a garbled trace completes and locates every malformed line', async () => {
    const dir = tmpdir();
    const f = path.join(dir, 'garbled.log');
    const lines = garble(qemu, 20_000, 3);
    fs.writeFileSync(f, lines.join('\n') + '\n');
    const r = await checkTrace(f);
    expect(r.lines).toBe(lines.length);
    const malformed = r.findings.filter((x) => x.rule === 'trace-malformed-line');
    expect(malformed.length).toBe(r.malformed);
    expect(malformed.length).toBeGreaterThan(1000);
  });
});
