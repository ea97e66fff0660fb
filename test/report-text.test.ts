import { describe, expect, it } from 'vitest';
import { renderText, shouldColor } from '../src/report/text.js';
import { escapeXml, visible } from '../src/report/escape.js';
import { cleanResult, hostileResult, sampleResult } from './fixtures/report/results.js';

// Raw terminal-affecting characters: C0 except LF, DEL, C1, bidi embeddings/overrides/isolates, marks, separators.
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe('text report', () => {
  it('groups findings by file: line, severity, rule id, message; then the raw line and related lines', () => {
    const out = renderText(sampleResult());
    const lines = out.split('\n');
    const i = lines.findIndex((l) => l.startsWith('traces/linux-boot.log'));
    expect(lines[i]).toBe('traces/linux-boot.log  (qemu-log, 3323 lines, 3 errors, 1 warning)');
    expect(lines[i + 1]).toMatch(/^ +14 {2}error {4}lifecycle-asq-aligned +ASQ 0x1ffdd010 is not 4 KiB aligned$/);
    expect(lines[i + 2]).toMatch(/^ +> 4242@1700000000\.104512:pci_nvme_mmio_write addr 0x28 data 0x1ffdd010 size 4$/);
    expect(lines[i + 3]).toMatch(/^ +traces\/linux-boot\.log:12 {2}AQA programmed here: 4242@.*pci_nvme_mmio_write addr 0x24 data 0xff003f size 4$/);
    expect(out).toMatch(/\n +2950 {2}error {4}queue-sq-cq-exists +I\/O SQ 1 binds to CQ 2, which does not exist\n/);
    expect(out).toMatch(/\n +3100 {2}warning {2}queue-doorbell-in-range +SQ 1 tail doorbell 1024/);
    expect(out).toContain('traces/linux-boot-smp2.log  (qemu-log, 3355 lines, conforming)');
    // Files appear in order, each finding under its own file.
    expect(out.indexOf('traces/linux-boot.log  (')).toBeLessThan(out.indexOf('traces/boot.serial.txt  ('));
  });

  it('after the findings: the rules exercised, the spec coverage, the notes, and the summary line last', () => {
    const out = renderText(sampleResult());
    const summary = out.indexOf('\n4 errors, 1 warning, 1 info in 3 files (6798 lines)\n');
    const exercised = out.indexOf('\nRules exercised: 12 (6 with findings)\n');
    const coverage = out.indexOf('\nSpec coverage\n');
    const notes = out.indexOf('\nNotes\n');
    expect(exercised).toBeGreaterThan(0);
    expect(coverage).toBeGreaterThan(exercised);
    expect(notes).toBeGreaterThan(coverage);
    expect(summary).toBeGreaterThan(notes);
    expect(out.trimEnd().split('\n').at(-1)).toBe('4 errors, 1 warning, 1 info in 3 files (6798 lines)');
    expect(out).toMatch(/ {2}fail {2}queue-sq-cq-exists +1 finding\n/);
    expect(out).toMatch(/ {2}pass {2}lifecycle-acq-aligned\n/);
    expect(out).toMatch(/registers \(9\): CSTS×28 {2}CC×12/);
    expect(out).toMatch(/commands \(9\): nvm:READ×32 {2}admin:IDENTIFY×8/);
    expect(out).toContain('dma-manager-authored: the trace carries no authors');
    expect(out).toContain('traces/linux-boot.log: SeaBIOS drove the controller first');
    expect(out).toContain('pci_nvme_mmio_shutdown_set×1');
    // The explanation of each rule that fired, with its spec section.
    expect(out).toMatch(/queue-sq-cq-exists — A CQ exists before an SQ binds to it \(NVMe Base 2\.0 §5\.5/);
    expect(out).toContain('Fix: Create the I/O CQ first');
  });

  it('says so when everything conforms', () => {
    const out = renderText(cleanResult());
    expect(out).toContain('0 errors, 0 warnings in 1 file (3355 lines)');
    expect(out).not.toContain('Rules that fired');
  });

  it('uses colour only when asked', () => {
    expect(renderText(sampleResult())).not.toContain('\x1b');
    const coloured = renderText(sampleResult(), { color: true });
    expect(coloured).toContain('\x1b[1;31merror');
    // Our own SGR sequences are the only escapes; nothing else from the traces.
    expect(coloured.replace(/\x1b\[[0-9;]*m/g, '')).toBe(renderText(sampleResult()));
  });

  it('shows control characters, escape sequences and bidi controls from traces escaped', () => {
    for (const color of [false, true]) {
      const out = renderText(hostileResult(), { color });
      const withoutOurSgr = out.replace(/\x1b\[[0-9;]*m/g, '');
      expect(withoutOurSgr).not.toMatch(RAW_UNSAFE);
      expect(withoutOurSgr).not.toContain('\x1b');
      expect(out).toContain('\\x1b[2J\\x1b]0;owned\\x07\\x1b[31mRED\\x1b[0m');
      expect(out).toContain('\\u009b31m C1-CSI \\x07bell \\x00nul \\x7fdel');
      expect(out).toContain('cid=1 \\u202eexists 0x1\\u202c \\u2066isolate\\u2069');
      expect(out).toContain('\\ud800lone');
      expect(out).toContain('\\r\\n::error::newline');
    }
  });

  it('escapes every kind of unsafe code point', () => {
    expect(visible('a\x1bb')).toBe('a\\x1bb');
    expect(visible('\t\n\r')).toBe('\\t\\n\\r');
    expect(visible('\x7f\x80\x9b\x9f')).toBe('\\x7f\\u0080\\u009b\\u009f');
    expect(visible('\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069')).toBe('\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069');
    expect(visible('\u200e\u200f\u061c\u200b\ufeff\u2028\u2029')).toBe('\\u200e\\u200f\\u061c\\u200b\\ufeff\\u2028\\u2029');
    expect(visible('x\ud800y\udc00z')).toBe('x\\ud800y\\udc00z');
    expect(visible('ok \u{1f600} é ü 中 \u00a0')).toBe('ok \u{1f600} é ü 中 \u00a0'); // printable text untouched
    expect(escapeXml('a\u0000b\ud800c\uffffd\u0001e')).toBe('abcde');
    expect(escapeXml('<&>"\'', true)).toBe('&lt;&amp;&gt;&quot;&apos;');
    expect(escapeXml('a\tb\nc', true)).toBe('a&#9;b&#10;c');
  });

  describe('shouldColor', () => {
    it('colours a TTY', () => expect(shouldColor({ isTTY: true }, {})).toBe(true));
    it('never a pipe or file', () => {
      expect(shouldColor({ isTTY: false }, {})).toBe(false);
      expect(shouldColor({}, {})).toBe(false);
    });
    it('never when NO_COLOR is set', () => {
      expect(shouldColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
      expect(shouldColor({ isTTY: true }, { NO_COLOR: 'yes' })).toBe(false);
    });
    it('never on a dumb terminal', () => expect(shouldColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false));
  });
});
