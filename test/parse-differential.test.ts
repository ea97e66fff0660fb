import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadEventDefs } from '../src/parse/event-spec.js';
import { slowMatch } from '../src/parse/template.js';
import { EXAMPLES, readLines } from './helpers.js';

/**
 * The fast matchers and the Ohm grammars are generated from the same templates; this keeps them honest:
 * on every corpus line, and on every single-character corruption of a sample of them, both paths agree.
 */
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
      if (fast === null) rejected++;
    }
    expect(rejected).toBeGreaterThan(500);
  });
});
