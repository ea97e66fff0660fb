import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadEventDefs } from '../src/parse/event-spec.js';
import { slowMatch } from '../src/parse/template.js';
import { EXAMPLES, readLines } from './helpers.js';

/**
 * The fast matchers and the Ohm grammars are generated from the same templates; this keeps them honest:
 * on every corpus line, and on every single-character corruption of a sample of them, both paths agree.
 */
describe('the validating regex and the scanner agree on numeric edges', () => {
  const defs = loadEventDefs('qemu');
  it('u16, u32, u64, i32, x8 and x64 limits, leading zeros, digit counts', () => {
    const cases = [
      'pci_nvme_misc_cb cid 65535', 'pci_nvme_misc_cb cid 65536', 'pci_nvme_misc_cb cid 00065', 'pci_nvme_misc_cb cid 000065', 'pci_nvme_misc_cb cid -1',
      'pci_nvme_irq_msix raising MSI-X IRQ vector 4294967295', 'pci_nvme_irq_msix raising MSI-X IRQ vector 4294967296',
      'pci_nvme_map_addr addr 0xffffffffffffffff len 18446744073709551615', 'pci_nvme_map_addr addr 0x1ffffffffffffffff len 1', 'pci_nvme_map_addr addr 0x1 len 18446744073709551616',
      'pci_nvme_setfeat_numq requested cq_count=-2147483648 sq_count=2147483647, responding with cq_count=1 sq_count=1',
      'pci_nvme_setfeat_numq requested cq_count=-2147483649 sq_count=1, responding with cq_count=1 sq_count=1',
      'pci_nvme_aer_masked type 0xff mask 0x100', 'pci_nvme_aer_masked type 0xFF mask 0x0',
    ];
    for (const l of cases) {
      const sp = l.indexOf(' ');
      const def = defs.get(l.slice(0, sp))!;
      expect(def.tpl.fits(l, sp + 1, {}), l).toBe(def.tpl.match(l, sp + 1) !== null);
    }
  });
});

describe('fast path and Ohm grammar agree', () => {
  const defs = loadEventDefs('qemu');
  const lines = [
    ...readLines(path.join(EXAMPLES, 'linux-boot-smp2.log')),
    ...readLines(path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log')),
  ];
  const split = (l: string): [string, number] => {
    const sp = l.indexOf(' ');
    return [sp === -1 ? l : l.slice(0, sp), sp === -1 ? l.length : sp + 1];
  };

  it('on every line of the real QEMU traces', () => {
    let n = 0;
    for (const l of lines) {
      const [name, start] = split(l);
      const def = defs.get(name)!;
      expect(slowMatch(def.tpl, l, start), l).toEqual(def.tpl.match(l, start));
      expect(def.tpl.fits(l, start, {}), l).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(7000);
  });

  it('on corrupted lines (deterministic single-character edits)', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ' x0z9,=\'_-';
    let rejected = 0;
    for (let k = 0; k < 3000; k++) {
      const l = lines[rnd(lines.length)]!;
      const [name, start] = split(l);
      if (l.length <= start) continue;
      const at = start + rnd(l.length - start);
      const op = rnd(3);
      const c = alphabet[rnd(alphabet.length)]!;
      const bad = op === 0 ? l.slice(0, at) + l.slice(at + 1) : op === 1 ? l.slice(0, at) + c + l.slice(at) : l.slice(0, at) + c + l.slice(at + 1);
      const def = defs.get(name)!;
      const fast = def.tpl.match(bad, start);
      expect(slowMatch(def.tpl, bad, start), bad).toEqual(fast);
      // The validating regex (used for events the model does not need) agrees with the scanner too.
      expect(def.tpl.fits(bad, start, {}), bad).toBe(fast !== null);
      if (fast === null) rejected++;
    }
    expect(rejected).toBeGreaterThan(500);
  });
});
