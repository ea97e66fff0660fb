import { describe, expect, it } from 'vitest';
import { compileTemplate } from '../src/parse/template.js';
import type { EventDef } from '../src/parse/event-spec.js';
import { QemuParser } from '../src/parse/qemu.js';
import { LineTyper } from '../src/read/qemu-batches.js';

/**
 * The WebAssembly typer on template shapes QEMU's own events do not all use (word fields, nested optional
 * groups, signed 64-bit values, text up to a literal in mid-line or to the line end), held to the string
 * scanner on generated and corrupted lines. test/parse-bytes.test.ts does the same on real QEMU events.
 */

const TEMPLATES: Record<string, string> = {
  pci_nvme_t_word: 'dev {d:word}, sub ({s:word}) end',
  pci_nvme_t_nested: 'a {a:u16}[ b {b:i32}[ c 0x{c:x16}]] z {z:u8}',
  pci_nvme_t_tail: "name '{n:str}' rest {r:str}",
  pci_nvme_t_mid: 'q {q:str} = {v:u64} hex 0x{h:x64}',
  pci_nvme_t_signed: 'k {k:i64} end',
  pci_nvme_t_bare: '',
};

const DEFS = new Map<string, EventDef>(
  Object.entries(TEMPLATES).map(([name, t]) => [name, { name, cls: 'info', dead: false, tpl: compileTemplate(t) }]),
);

const SAMPLES = [
  'pci_nvme_t_word dev nvme0, sub (ns1) end',
  'pci_nvme_t_word dev a]b, sub (x) end',
  'pci_nvme_t_nested a 1 b -5 c 0xbeef z 9',
  'pci_nvme_t_nested a 1 b 7 z 9',
  'pci_nvme_t_nested a 65535 z 255',
  'pci_nvme_t_nested a 1 b 7 c 0x z 9',
  "pci_nvme_t_tail name 'it''s' rest all of = this",
  'pci_nvme_t_mid q some thing = 12 hex 0x1f',
  'pci_nvme_t_mid q  = 0 hex 0xfffffffffffff',
  'pci_nvme_t_signed k -9007199254740991 end',
  'pci_nvme_t_signed k 9007199254740992 end',
  'pci_nvme_t_bare',
  '4242@1.5:pci_nvme_t_nested a 2 z 3',
];

let seed = 99;
const rnd = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};

describe('WebAssembly typer against the string scanner, on synthetic templates', () => {
  it('agrees on every sample and on thousands of corrupted ones', () => {
    const typer = new LineTyper(undefined, DEFS);
    const text = new QemuParser({ defs: DEFS });
    const alphabet = [' ', ',', ')', ']', '(', '\t', "'", '=', '-', '0', '9', 'f', 'x', 'é', '@', ':'];
    let typed = 0;
    let declined = 0;
    const lines = [...SAMPLES];
    for (let k = 0; k < 8000; k++) {
      const l = SAMPLES[rnd(SAMPLES.length)]!;
      const at = rnd(l.length + 1);
      const c = alphabet[rnd(alphabet.length)]!;
      const op = rnd(3);
      lines.push(op === 0 ? l.slice(0, at) + l.slice(at + 1) : op === 1 ? l.slice(0, at) + c + l.slice(at) : l.slice(0, at) + c + l.slice(at + 1));
    }
    for (const l of lines) {
      const { batch } = typer.batch(Buffer.from(l, 'utf8'), true);
      const e = batch!.events[0]!;
      text.diagnostics.length = 0;
      const r = text.parse(l, 1);
      if (e < 0) {
        declined++;
        // Declining is safe, but only for a reason: the string scanner rejects it too, or needs a bigint or
        // non-ASCII text.
        if (r && !/[^\x00-\x7f]/.test(l)) expect(Object.values(r.fields).some((v) => typeof v === 'bigint'), l).toBe(true);
        continue;
      }
      typed++;
      const rebuilt = text.decode(e, batch!.vals, 0, batch!.strs, l, 1);
      expect(r, l).toBeDefined();
      expect({ name: rebuilt.name, fields: rebuilt.fields }, l).toEqual({ name: r!.name, fields: r!.fields });
    }
    // Every sample is typed but a word cut short by ']', an optional group that does not fit and leaves a
    // mismatch, and a value beyond 2^53 (the string scanner's bigint).
    const notTyped = ['pci_nvme_t_word dev a]b, sub (x) end', 'pci_nvme_t_nested a 1 b 7 c 0x z 9', 'pci_nvme_t_signed k 9007199254740992 end'];
    for (const l of SAMPLES) {
      const { batch } = typer.batch(Buffer.from(l, 'utf8'), true);
      expect(batch!.events[0]! >= 0, l).toBe(!notTyped.includes(l));
    }
    expect(typed).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(2000);
  });
});
