import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, renderHtml } from '../src/report/html.js';
import { HOSTILE, PWN, hostileResult, sampleResult } from './fixtures/report/results.js';
import { chromium, decodePng, pixelVariety, runChromium, tmpDir } from './fixtures/report/tools.js';

const CWD = '/work/checkout';
const CSP_META = /<meta http-equiv="Content-Security-Policy" content="[^"]*">\n/;

function write(dir: string, name: string, html: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, html);
  return file;
}

/** The DOM after load (and after any script or event handler had its chance), as Chromium serialises it. */
function dumpDom(file: string): string {
  return runChromium(['--virtual-time-budget=3000', '--dump-dom', `file://${file}`]);
}

function titleOf(dom: string): string {
  return dom.match(/<title>([\s\S]*?)<\/title>/)?.[1] ?? '';
}

describe('HTML report', () => {
  it('is one self-contained file: no script, no external resource, a strict CSP whose hash matches the inline style', () => {
    const html = renderHtml(sampleResult(), { cwd: CWD });
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).not.toMatch(/<script|<iframe|<object|<embed|<link|<base|@import|url\(/i);
    expect(html).not.toMatch(/\s(src|srcset|action|formaction|data)=/i);
    expect(html).not.toMatch(/href="(?!#)/); // only in-page anchors
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i); // inline style attributes would need 'unsafe-inline'

    const csp = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]*)">/)![1]!.replace(/&#39;/g, "'");
    expect(csp).toBe(contentSecurityPolicy());
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'none'");
    expect(csp).not.toContain('unsafe');
    const style = html.match(/<style>([\s\S]*?)<\/style>/)![1]!;
    const hash = `'sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}'`;
    expect(csp).toContain(`style-src ${hash}`);
  });

  it('has a summary, findings per rule, a timeline per trace, spec coverage and proof-line tables', () => {
    const html = renderHtml(sampleResult(), { cwd: CWD });
    for (const h of ['Summary', 'Findings by rule', 'Traces', 'Spec coverage']) expect(html).toContain(`<h2>${h}</h2>`);
    expect(html).toContain('<code>queue-sq-cq-exists</code> — A CQ exists before an SQ binds to it');
    expect(html.match(/<svg class="timeline"/g)).toHaveLength(3);
    expect(html).toContain('<h4><code>cloud-shape</code> proof line at <a href="#t1-L88" class="mono">line 88</a></h4>');
    expect(html).toMatch(/<td class="mono">dma_backend<\/td><td class="mono">iommu-direct<\/td><td class="verdict bad">overclaim<\/td>/);
    expect(html).toMatch(/<td class="mono">scope<\/td><td class="mono">boot,io<\/td><td class="verdict bad">missing<\/td>/);
    expect(html).toContain('<tr><td class="mono">CSTS</td><td class="num">14</td></tr>');
    // Every in-page link has a target: findings ↔ timeline lines ↔ related lines.
    const targets = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    const links = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(20);
    for (const l of links) expect(targets, `#${l}`).toContain(l);
    // The related line of the SQ/CQ finding is linked to its place on the timeline.
    expect(html).toMatch(/<a href="#t0-L2941" class="mono">traces\/linux-boot\.log:2941<\/a> only CQ 1 exists \(created here\)/);
    expect(html).toMatch(/<li class="moment" id="t0-L2941">/);
  });

  it('escapes every piece of trace text (static check)', () => {
    const html = renderHtml(hostileResult(), { cwd: CWD });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<svg onload');
    // Real tags are the ones with a literal '<': none of them carries an event handler or a URL from a trace.
    for (const tag of html.match(/<[a-z][^>]*>/gi) ?? []) {
      expect(tag).not.toMatch(/\son[a-z]+=/i);
      expect(tag).not.toMatch(/\s(src|srcset)=/i);
    }
    expect(html).toContain('&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;');
    expect(html).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(html).toContain('\\u202eexists');
  });

  describe.skipIf(chromium.skip)(`in headless Chromium ${chromium.reason}`, () => {
    it('a hostile trace neither runs script nor injects markup, and its text appears escaped', () => {
      const dir = tmpDir('html');
      const html = renderHtml(hostileResult(), { cwd: CWD });

      // (1) The report as written.
      const dom = dumpDom(write(dir, 'hostile.html', html));
      expect(dom).toContain('nvmeproof report');
      expect(titleOf(dom)).toBe('nvmeproof: 1 error, 1 warning in 1 file (40 lines)');
      expect(dom).not.toContain('PWNED</title>');
      expect(dom).not.toMatch(/<script|<img|<svg onload/i);
      expect(dom).toContain('&lt;script&gt;document.title=\'PWNED\'&lt;/script&gt;');
      expect(dom).toContain('"&gt;&lt;img src=x onerror="document.title=\'PWNED\'"&gt;');
      expect(dom).toContain('\\u202eexists 0x1\\u202c \\u2066isolate\\u2069');
      expect(dom).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);

      // (2) Without the CSP: the escaping alone keeps it inert.
      const noCsp = html.replace(CSP_META, '');
      expect(noCsp).not.toContain('Content-Security-Policy');
      const dom2 = dumpDom(write(dir, 'hostile-nocsp.html', noCsp));
      expect(titleOf(dom2)).toBe('nvmeproof: 1 error, 1 warning in 1 file (40 lines)');
      expect(dom2).not.toMatch(/<script|<img|<svg onload/i);
    }, 120_000);

    it('the harness does detect execution, and the CSP alone blocks it', () => {
      const dir = tmpDir('html');
      const page = (csp: boolean) =>
        `<!doctype html><html><head><meta charset="utf-8">${csp ? `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy().replace(/'/g, '&#39;')}">` : ''}<title>t</title></head><body>${HOSTILE.script}${HOSTILE.img}</body></html>`;
      expect(titleOf(dumpDom(write(dir, 'unescaped.html', page(false))))).toBe('PWNED');
      expect(titleOf(dumpDom(write(dir, 'unescaped-csp.html', page(true))))).toBe('t');
      expect(PWN).toContain('PWNED');
    }, 120_000);

    it('renders a real report: the screenshot has the requested size and is not blank', () => {
      const dir = tmpDir('html');
      const file = write(dir, 'report.html', renderHtml(sampleResult(), { cwd: CWD }));
      const png = path.join(dir, 'report.png');
      runChromium(['--hide-scrollbars', '--window-size=1280,1400', '--virtual-time-budget=3000', `--screenshot=${png}`, `file://${file}`]);
      expect(fs.existsSync(png)).toBe(true);
      const img = decodePng(fs.readFileSync(png));
      expect([img.width, img.height]).toEqual([1280, 1400]);
      const v = pixelVariety(img);
      expect(v.colours).toBeGreaterThan(20);
      expect(v.nonBackground).toBeGreaterThan(0.05);
      // The stylesheet applied under the CSP: the error badges are drawn in the error colour (#cf222e).
      let red = 0;
      for (let i = 0; i < img.pixels.length; i += img.channels) {
        const [r, g, b] = [img.pixels[i]!, img.pixels[i + 1]!, img.pixels[i + 2]!];
        if (Math.abs(r - 0xcf) < 12 && Math.abs(g - 0x22) < 12 && Math.abs(b - 0x2e) < 12) red++;
      }
      expect(red).toBeGreaterThan(500);
    }, 120_000);
  });
});
