import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { buildTrace } from '../src/bench/trace.js';
import { ROOT, tmpdir } from './helpers.js';

/**
 * State is proportional to live queues and outstanding commands, never to the trace: checking eight or sixteen
 * times as many lines must not take (much) more memory, whichever way the file is read. (The 10M-line figure is in
 * `npm run bench -- --memory`; this keeps a regression from reaching it.)
 *
 * The checks run with a small JavaScript heap (24 MB of old generation, 1 MB semi-spaces). Left to itself, V8
 * sizes its heap by allocation rate and by how soon its concurrent marker gets a core, so on a loaded machine
 * the same check peaks anywhere between 83 and 110 MB: a comparison of two runs then measures the machine. With
 * the cap the peaks of repeated runs agree within a few MB, and a leak of a few bytes a line in the heap is
 * no longer slow growth but an out-of-memory exit: the larger trace holds well over a million lines.
 */
const HEAP_CAP = ['--max-old-space-size=24', '--max-semi-space-size=1'];

function peakRss(file: string, how: string): { rss: number; lines: number; findings: number } {
  // A script file, not --eval: the reading thread would inherit --input-type.
  const script = path.join(path.dirname(file), `rss-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(
    script,
    `const { checkTrace } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'check', 'run.js')).href)});
    const r = await checkTrace(process.argv[2], ${how});
    console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, lines: r.lines, findings: r.findings.length }));`,
  );
  const r = spawnSync(process.execPath, [...HEAP_CAP, script, file], { encoding: 'utf8' });
  expect(r.status, `${file}: ${r.stderr.slice(0, 2000)}`).toBe(0);
  return JSON.parse(r.stdout) as { rss: number; lines: number; findings: number };
}

describe('memory stays flat in trace length', () => {
  const dir = tmpdir();
  const small = path.join(dir, 'small.log');
  const large = path.join(dir, 'large.log');
  const huge = path.join(dir, 'huge.log');
  buildTrace(100_000, small);
  buildTrace(800_000, large);
  buildTrace(1_600_000, huge);

  // The reading thread takes over once it has booted (read/handoff.ts), which on a loaded machine may take
  // longer than reading a small trace whole (its heap then never grows): that comparison is between two
  // traces it surely takes over.
  for (const [name, how, from, to] of [
    ['one thread, typed from bytes', '{ pipeline: false }', small, huge],
    ['with the reading thread', '{ pipeline: true }', large, huge],
    ['one thread, string parser', '{ pipeline: false, byteParsing: false }', small, huge],
  ] as const) {
    it(name, () => {
      const a = peakRss(from, how);
      const b = peakRss(to, how);
      expect(a.findings).toBe(0);
      expect(b.findings).toBe(0);
      expect(b.lines).toBeGreaterThan(1.9 * a.lines);
      // 800k or 1.5M more lines are 42 or 80 MB of trace: keeping much of it would show.
      expect(b.rss - a.rss, `peak RSS ${a.rss >> 20} MB on ${a.lines} lines, ${b.rss >> 20} MB on ${b.lines}`).toBeLessThan(16 << 20);
    });
  }
});
