import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { githubBlobBase, renderMarkdown } from '../src/report/markdown.js';
import { escapeData, escapeProperty, renderGithub } from '../src/report/github.js';
import { cleanResult, hostileResult, sampleResult } from './fixtures/report/results.js';
import { IN_CI } from './fixtures/report/tools.js';

const CWD = '/work/checkout';
const cmark = spawnSync('sh', ['-c', 'command -v cmark-gfm'], { encoding: 'utf8' }).stdout.trim();

/** GitHub's own Markdown parser (Debian's cmark-gfm), with the extensions github.com enables. */
function gfm(md: string): string {
  const r = spawnSync(cmark, ['--unsafe', '-e', 'table', '-e', 'autolink', '-e', 'strikethrough', '-e', 'tagfilter', '-e', 'tasklist'], { input: md, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

describe('Markdown report', () => {
  it('has a table of traces × errors/warnings and the findings grouped by rule with file:line links', () => {
    const md = renderMarkdown(sampleResult(), { cwd: CWD });
    expect(md).toMatch(/^## ❌ nvmeproof: 4 errors, 1 warning, 1 info in 3 files &#40;6798 lines&#41;\n/);
    expect(md).toContain('| Trace | Format | Lines | Errors | Warnings | Rules exercised |');
    expect(md).toContain('| <code>traces/linux-boot.log</code> | qemu-log | 3323 | **3** | 1 | 8 |');
    expect(md).toContain('| <code>traces/linux-boot-smp2.log</code> | qemu-log | 3355 | 0 | 0 | 4 |');
    expect(md).toContain('#### ❌ <code>queue-sq-cq-exists</code> — A CQ exists before an SQ binds to it (1)');
    expect(md).toContain('- **error** [traces/linux-boot.log:2950](traces/linux-boot.log#L2950): I/O SQ 1 binds to CQ 2, which does not exist');
    expect(md).toMatch(/<details><summary>trace lines<\/summary>\n\n {2}<pre>2950 {2}4242@1700000001\.882101:pci_nvme_create_sq .*&#10;2941 {2}only CQ 1 exists \(created here\): /);
    // Errors before warnings.
    expect(md.indexOf('queue-sq-cq-exists</code>')).toBeLessThan(md.indexOf('queue-doorbell-in-range</code>'));
    expect(md).toContain('<summary>1 rule not checked</summary>');
  });

  it('links to the commit on GitHub when given a link base', () => {
    const base = githubBlobBase({ GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/driver', GITHUB_SHA: 'abc123' });
    expect(base).toBe('https://github.com/acme/driver/blob/abc123/');
    expect(githubBlobBase({})).toBeUndefined();
    const md = renderMarkdown(sampleResult(), { cwd: CWD, linkBase: base });
    expect(md).toContain('(https://github.com/acme/driver/blob/abc123/traces/linux-boot.log#L2950)');
  });

  it('says so when everything conforms', () => {
    const md = renderMarkdown(cleanResult());
    expect(md).toMatch(/^## ✅ nvmeproof: 0 errors, 0 warnings in 1 file/);
    expect(md).toContain('No findings');
  });

  it('stays within its character budget and says what it left out', () => {
    const result = sampleResult();
    const boot = result.files[0]!;
    for (let i = 0; i < 2000; i++) boot.findings.push({ ...boot.findings[2]!, line: 4000 + i });
    const md = renderMarkdown(result, { maxChars: 20_000 });
    expect(md.length).toBeLessThan(21_000);
    expect(md).toMatch(/_\d+ more findings not shown here: see the SARIF, JUnit or JSON report\._/);
    expect(renderMarkdown(result).length).toBeLessThan(65_536); // fits a pull-request comment by default
  });

  it('escapes trace text: no raw HTML, links, images, mentions or table breaks come from a trace', () => {
    const md = renderMarkdown(hostileResult(), { cwd: CWD });
    expect(md).not.toMatch(/<(script|img|svg|b)\b/i);
    // Outside the one-line <pre> blocks (raw HTML: Markdown does not apply there), no Markdown syntax survives.
    const prose = md.replace(/<pre>.*<\/pre>/g, '');
    expect(prose).not.toContain('](javascript');
    expect(prose).not.toContain('![x]');
    expect(prose).not.toContain('`code`');
    expect(prose).not.toMatch(/@everyone/); // followed by a word joiner
    expect(prose).not.toMatch(/https?:\/\/|www\.evil/);
    expect(md).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    // Every table row still has exactly 7 pipes (6 cells).
    for (const row of md.split('\n').filter((l) => l.startsWith('| '))) expect(row.split('|').length - 1).toBe(7);
  });

  describe.skipIf(!cmark && !IN_CI)(`rendered by cmark-gfm${cmark ? '' : ' (not found: apt-get install cmark-gfm; skipped because CI is not set)'}`, () => {
    it('hostile trace text renders as text, never as markup', () => {
      if (!cmark) throw new Error('cmark-gfm is required when CI is set: apt-get install -y cmark-gfm');
      const html = gfm(renderMarkdown(hostileResult(), { cwd: CWD }));
      const tags = new Set([...html.matchAll(/<([a-z0-9]+)[\s>]/g)].map((m) => m[1]));
      for (const t of tags) expect(['h2', 'h3', 'h4', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'code', 'p', 'em', 'strong', 'ul', 'li', 'a', 'details', 'summary', 'pre']).toContain(t);
      const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
      expect(hrefs.length).toBe(2);
      for (const h of hrefs) expect(h).toMatch(/^traces\/%22%3E%3Cimg%20src%3Dx%20onerror%3D%22document\.title%3D%27PWNED%27%22%3E\.log#L\d+$/);
      expect(html).toContain('&lt;script&gt;document.title=');
      expect(html).toContain('[click](javascript:alert(1))'); // shown literally
      const rows = html.match(/<tr>/g) ?? [];
      expect(rows.length).toBe(2); // header + one trace: no cell break from `|` in trace text
    });

    it('the sample renders with its table, headings, links and details', () => {
      if (!cmark) throw new Error('cmark-gfm is required when CI is set');
      const html = gfm(renderMarkdown(sampleResult(), { cwd: CWD }));
      expect(html).toContain('<th align="right">Errors</th>');
      expect(html).toContain('<a href="traces/linux-boot.log#L2950">traces/linux-boot.log:2950</a>');
      expect(html).toMatch(/<details><summary>trace lines<\/summary>\n<pre>2950 {2}4242@1700000001\.882101:pci_nvme_create_sq/);
    });
  });
});

describe('GitHub workflow annotations', () => {
  it('writes ::error / ::warning / ::notice with file, line and title, then the summary', () => {
    const out = renderGithub(sampleResult(), { cwd: CWD });
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe(
      '::error file=traces/linux-boot.log,line=14,title=lifecycle-asq-aligned (error)::ASQ 0x1ffdd010 is not 4 KiB aligned%0A  4242@1700000000.104512:pci_nvme_mmio_write addr 0x28 data 0x1ffdd010 size 4%0A  traces/linux-boot.log:12  AQA programmed here: 4242@1700000000.104488:pci_nvme_mmio_write addr 0x24 data 0xff003f size 4',
    );
    expect(lines[3]).toMatch(/^::warning file=traces\/linux-boot\.log,line=3100,title=queue-doorbell-in-range \(warning\)::/);
    expect(lines[5]).toMatch(/^::notice file=traces\/boot\.serial\.txt,line=88,title=shape-vendor-id-documented \(info\)::/);
    expect(lines[6]).toBe('::notice title=nvmeproof::4 errors, 1 warning, 1 info in 3 files (6798 lines)');
  });

  it("escapes properties and data by GitHub's rules", () => {
    expect(escapeData('50% done\r\nnext')).toBe('50%25 done%0D%0Anext');
    expect(escapeProperty('a:b,c%d\ne')).toBe('a%3Ab%2Cc%25d%0Ae');
  });

  it('a hostile trace cannot end a command or start another', () => {
    const out = renderGithub(hostileResult(), { cwd: CWD });
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3); // two findings + summary, each exactly one line
    for (const l of lines) expect(l).toMatch(/^::(error|warning|notice) /);
    expect(out).not.toMatch(/[\r\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    // The file property cannot contain a raw ',' or ':' that would end it.
    const props = lines[0]!.slice(0, lines[0]!.indexOf('::', 2));
    expect(props).toBe(
      '::error file=traces/"><img src=x onerror="document.title=\'PWNED\'">.log,line=7,title=cmd-opcode-known (error)',
    );
    // Hostile text stays inside the data part: `%` escaped, no raw line break, so no second command.
    expect(lines[1]).toContain('::error file=x,line=1::injected%250A::warning::also\\r\\n::error::newline');
    expect(lines[1]).toMatch(/^::warning file=[^,]*,line=12,title=[^,:]*::/);
  });
});
