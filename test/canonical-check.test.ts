import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { loadCatalog } from '../src/rules/catalog.js';
import { cli, EXAMPLES, readLines, tmpdir } from './helpers.js';

/*
 * `check` on canonical traces: format detection (text and JSON Lines), the wire rules and the authority rules on
 * the same stream, "not checked" where a trace carries no authors, and the header's visibility flags.
 */

const catalog = loadCatalog();
const authorityRules = catalog.rules.filter((r) => r.meta.family === 'authority').map((r) => r.meta.id).sort();
const EXAMPLE = path.join(EXAMPLES, 'canonical', 'brokered-read-write.canon');
const EXAMPLE_JSONL = path.join(EXAMPLES, 'canonical', 'brokered-read-write.jsonl');

function write(lines: string[], ext = '.canon'): string {
  const f = path.join(tmpdir(), `t${ext}`);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

describe('check on canonical traces', () => {
  it('the conforming brokered flow: canonical detected, zero findings of any rule, every authority rule exercised', async () => {
    for (const f of [EXAMPLE, EXAMPLE_JSONL]) {
      const r = await checkTrace(f, { catalog });
      expect(r.format).toBe('canonical');
      expect(r.findings.map((x) => `${x.rule}@${x.line}: ${x.message}`)).toEqual([]);
      expect(r.malformed).toBe(0);
      expect(r.notChecked).toEqual([]);
      expect(r.exercised.filter((id) => id.startsWith('authority-')).sort()).toEqual(authorityRules);
      // the wire rules ran on it too
      for (const id of ['lifecycle-admin-regs-before-enable', 'cmd-completion-matches', 'queue-doorbell-in-range', 'prp-length-matches-command', 'prp-list-pointer-aligned']) expect(r.exercised).toContain(id);
    }
  });

  it('the CLI auto-detects the text and the JSON Lines form and exits 0 on the conforming flow', () => {
    for (const f of [EXAMPLE, EXAMPLE_JSONL]) {
      const r = cli(['check', f]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\(canonical, \d+ lines, conforming\)/);
    }
  });

  it('a violation is reported at its line, with the related lines that establish it', async () => {
    const lines = readLines(EXAMPLE);
    const i = lines.findIndex((l) => l.startsWith('cmd by=manager sq=1 cid=0 '));
    lines[i] = lines[i]!.replace('ledger=9', 'ledger=9 prp1_by=provider');
    const j = lines.findIndex((l) => l.startsWith('ledger.free by=manager id=9'));
    lines.splice(j + 1, 0, 'irq.wait by=provider handle=irq-io vector=1');
    const r = await checkTrace(write(lines), { catalog });
    expect(r.findings.map((x) => `${x.rule}@${x.line}`)).toEqual([`authority-address-manager-authored@${i + 1}`, `authority-stale-interrupt@${j + 2}`]);
    const stale = r.findings[1]!;
    expect(stale.message).toMatch(/handle irq-io was revoked by teardown \(provider-exit\) at line \d+/);
    expect(stale.related.map((x) => x.line)).toEqual([lines.findIndex((l) => l.startsWith('teardown by=kernel')) + 1]);
    expect(stale.section).toMatch(/seed 002/);
  });

  it('a QEMU trace carries no authors: the authority rules are not checked, not passed', async () => {
    const r = await checkTrace(path.join(EXAMPLES, 'linux-boot-smp1.log'), { catalog });
    expect(r.notChecked.map((n) => n.rule).sort()).toEqual(authorityRules);
    expect(new Set(r.notChecked.map((n) => n.reason))).toEqual(new Set(['the trace carries no authors']));
    expect(r.exercised.filter((id) => id.startsWith('authority-'))).toEqual([]);
    const text = cli(['check', path.join(EXAMPLES, 'linux-boot-smp1.log')]).stdout;
    expect(text).toMatch(/authority-address-manager-authored: the trace carries no authors/);
  });

  it('a canonical trace with authors=no: events need no by=, and the authority rules are not checked', async () => {
    const r = await checkTrace(
      write([
        'nvmeproof-canonical v1 producer=test authors=no',
        'reg.write off=0x24 val=0x1f001f',
        'reg.write off=0x28 size=8 val=0x10000',
        'reg.write off=0x30 size=8 val=0x11000',
        'reg.write off=0x14 val=0x460001',
        'cmd sq=0 cid=0 opc=0x06 cns=1 prp1=0x12000 len=4096',
        'db sq=0 val=1',
        'cqe cq=0 cid=0 status=0x0',
      ]),
      { catalog },
    );
    expect(r.findings).toEqual([]);
    expect(r.notChecked.map((n) => n.rule).sort()).toEqual(authorityRules);
    expect(r.exercised).toContain('cmd-completion-matches');
  });

  it('registers=no: the controller was enabled before the trace began (no register or doorbell rule fires)', async () => {
    const r = await checkTrace(
      write(['nvmeproof-canonical v1 authors=no registers=no', 'cmd sq=0 cid=1 opc=0x06 cns=1', 'cqe sq=0 cid=1 status=0x0']),
      { catalog },
    );
    expect(r.findings).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/registers=no/);
  });

  it('wire rules fire on canonical traces as on QEMU ones', async () => {
    const r = await checkTrace(
      write([
        'nvmeproof-canonical v1 authors=no',
        'reg.write off=0x24 val=0x1f001f',
        'reg.write off=0x28 size=8 val=0x10800',
        'reg.write off=0x30 size=8 val=0x11000',
        'reg.write off=0x14 val=0x460001',
        'cmd sq=0 cid=0 opc=0x3f',
        'cqe cq=0 cid=0 status=0x4001',
      ]),
      { catalog },
    );
    expect(r.findings.map((x) => `${x.rule}@${x.line}`)).toEqual(['lifecycle-asq-aligned@3', 'cmd-opcode-supported@6']);
  });

  it('a console capture: timestamps, comments and noise between the events', async () => {
    const lines = readLines(EXAMPLE).map((l, i) => (l.startsWith('#') ? l : `[ ${(i / 100).toFixed(6)}] ${l}`));
    lines.splice(3, 0, 'Linux version 6.1.0 (builder@host) #1 SMP', 'random console noise: here');
    const r = await checkTrace(write(lines, '.txt'), { catalog });
    expect(r.format).toBe('canonical');
    expect(r.findings).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/2 line\(s\) that are not canonical events were skipped/);
  });

  it('a malformed line is a located trace-malformed-line finding; the rest is still checked', async () => {
    const lines = readLines(EXAMPLE);
    const i = lines.findIndex((l) => l.startsWith('db by=manager sq=1 val=1'));
    lines[i] = 'db by=manager sq=1 val=one';
    const r = await checkTrace(write(lines), { catalog });
    expect(r.findings.map((x) => `${x.rule}@${x.line}:${x.col}`)).toEqual([`trace-malformed-line@${i + 1}:24`]);
    expect(r.findings[0]!.message).toBe('db: val=one is not an unsigned integer (decimal or 0x hex, at most 64 bits)');
    expect(r.exercised).toContain('authority-stale-address');
  });
});
