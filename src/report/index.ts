import type { CheckResult, Severity } from '../findings/finding.js';
import { atLeast } from './common.js';
import { renderGithub } from './github.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { renderSarif } from './sarif.js';
import { renderText } from './text.js';

/** The report layer: pure functions from a CheckResult to the text of a report. */

export const REPORT_FORMATS = ['text', 'json', 'junit', 'sarif', 'markdown', 'github', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function isReportFormat(s: string): s is ReportFormat {
  return (REPORT_FORMATS as readonly string[]).includes(s);
}

export interface RenderOptions {
  /** text: ANSI colour (the caller decides, see `shouldColor`). */
  color?: boolean;
  /** text: findings were already streamed (live use); print the rest. */
  findingsStreamed?: boolean;
  /** Paths inside it are shown relative to it (SARIF: relative URIs under SRCROOT). Default: as given; SARIF: process.cwd(). */
  cwd?: string;
  /** junit: lowest severity that fails a test case (default 'error'; 'never' keeps the default for JUnit). */
  failOn?: Severity | 'never';
  /** markdown: prefix for file links (see `githubBlobBase`). */
  linkBase?: string;
}

export function renderReport(format: ReportFormat, result: CheckResult, opts: RenderOptions = {}): string {
  switch (format) {
    case 'text':
      return renderText(result, opts);
    case 'json':
      return renderJson(result);
    case 'junit':
      return renderJunit(result, { cwd: opts.cwd, failOn: opts.failOn === 'never' ? undefined : opts.failOn });
    case 'sarif':
      return renderSarif(result, opts);
    case 'markdown':
      return renderMarkdown(result, opts);
    case 'github':
      return renderGithub(result, opts);
    case 'html':
      return renderHtml(result, opts);
  }
}

/** Exit status for a result: 1 when any finding is at or above `failOn` (default 'error'), else 0. (2 is the CLI's, for usage and unreadable input.) */
export function exitCodeFor(result: CheckResult, failOn: Severity | 'never' = 'error'): 0 | 1 {
  if (failOn === 'never') return 0;
  for (const file of result.files) for (const f of file.findings) if (atLeast(f.severity, failOn)) return 1;
  return 0;
}

export { shouldColor, renderFindingLive } from './text.js';
export { githubBlobBase } from './markdown.js';
export { fingerprint, normaliseContent } from './fingerprint.js';
export { applyBaseline, createBaseline, parseBaseline, readBaseline, serializeBaseline, writeBaseline } from './baseline.js';
export type { Baseline, BaselineEntry, BaselineOptions } from './baseline.js';
