import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { buildTrace } from '../src/bench/trace.js';
import { ROOT, tmpdir } from './helpers.js';

/**
 * State is proportional to live queues and outstanding commands, never to the trace: checking eight times as
 * many lines must not take (much) more memory, whichever way the file is read. (The 10M-line figure is in
 * `npm run bench -- --memory`; this keeps a regression from reaching it.)
 */
function peakRss(file: string, how: string): { rss: number; lines: number; findings: number } {
  // A script file, not --eval: the reading thread would inherit --input-type.
  const script = path.join(path.dirname(file), `rss-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(
    script,
    `const { checkTrace } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'check', 'run.js')).href)});
    const r = await checkTrace(process.argv[2], ${how});
    console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, lines: r.lines, findings: r.findings.length }));`,
  );
  const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
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
    ['one thread, typed from bytes', '{ pipeline: false }', small, large],
    ['with the reading thread', '{ pipeline: true }', large, huge],
    ['one thread, string parser', '{ pipeline: false, byteParsing: false }', small, large],
  ] as const) {
    it(name, () => {
      const a = peakRss(from, how);
      const b = peakRss(to, how);
      expect(a.findings).toBe(0);
      expect(b.findings).toBe(0);
      expect(b.lines).toBeGreaterThan(1.9 * a.lines);
      // 700k or 800k more lines are 37 or 42 MB of trace: keeping much of it would show.
      expect(b.rss - a.rss, `peak RSS ${a.rss >> 20} MB on ${a.lines} lines, ${b.rss >> 20} MB on ${b.lines}`).toBeLessThan(16 << 20);
    });
  }
});
