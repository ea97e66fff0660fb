import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, cli, EXAMPLES, readLines, ROOT } from './helpers.js';

/** Live use: `qemu ... 2>&1 | nvmeproof check -` reports a finding as soon as its evidence is complete. */
describe('live checking from standard input', () => {
  it('prints the finding before the input ends', async () => {
    const lines = readLines(path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log'));
    const bad = lines.findIndex((l) => l.includes('opc 0x3f'));
    const child = spawn(process.execPath, [CLI, 'check', '-'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Send everything up to and a little past the bad command, then wait with the pipe still open.
    child.stdin.write(lines.slice(0, bad + 20).join('\n') + '\n');
    const deadline = Date.now() + 20_000;
    while (!out.includes('cmd-opcode-supported') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(new RegExp(`<stdin>:${bad + 1}\\s+error\\s+cmd-opcode-supported`));
    child.stdin.end(lines.slice(bad + 20).join('\n') + '\n');
    const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
    expect(code).toBe(1);
    expect(out).toMatch(/4 errors/);
  });

  it('--max-findings stops early', () => {
    const r = cli(['check', '--max-findings', '1', '--format', 'json', path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log')]);
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout) as { files: { findings: unknown[]; notes: string[]; lines: number }[] };
    expect(res.files[0]!.findings).toHaveLength(1);
    expect(res.files[0]!.notes.join(' ')).toMatch(/stopped after 1 finding/);
    expect(res.files[0]!.lines).toBeLessThan(4137);
  });

  it('rules lists the catalog and explain shows a rule with a violating and a conforming example', () => {
    const rules = cli(['rules']);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toMatch(/queue-doorbell-in-range\s+error\s+Doorbell values lie inside the queue/);
    const e = cli(['explain', 'queue-doorbell-in-range']);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/Spec: NVMe Base 2\.0/);
    expect(e.stdout).toMatch(/Violating \(conformance\/wire\/queue-doorbell-in-range\//);
    expect(e.stdout).toMatch(/Conforming \(conformance\/wire\/queue-doorbell-in-range\//);
    const missing = cli(['explain', 'doorbell-in-range']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no rule 'doorbell-in-range' \(did you mean queue-doorbell-in-range/);
    expect(fs.existsSync(CLI)).toBe(true);
  });
});
