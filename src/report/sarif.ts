import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CheckResult, FileResult, Finding, RuleMeta, Severity, SourceRef } from '../findings/finding.js';
import { allRules, sortFindings } from './common.js';
import { safeJson, visible } from './escape.js';
import { fingerprintAll } from './fingerprint.js';

/**
 * SARIF 2.1.0 (OASIS), shaped for GitHub code scanning: one run; `tool.driver.rules` carries every rule
 * with its descriptions, help (text and Markdown), default level and tags; each result points at the trace
 * file and line (URI relative to the working directory under the `SRCROOT` base when the trace lies inside
 * it), with the offending line as the snippet, related lines as `relatedLocations`, and the finding's
 * fingerprint in `partialFingerprints`. No `helpUri`: the rules have no per-rule page, and the schema
 * forbids an empty one.
 */

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';
export const TOOL_INFORMATION_URI = 'https://www.npmjs.com/package/nvmeproof';
export const SRCROOT = 'SRCROOT';
export const FINGERPRINT_KEY = 'nvmeproofFindingHash/v1';

export interface SarifOptions {
  cwd?: string;
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note' };
const PROBLEM_SEVERITY: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'recommendation' };

/** Message text per SARIF §3.11: our text is plain, so brackets that could read as embedded links are escaped. */
function messageText(s: string): string {
  return visible(s).replace(/[[\]]/g, (c) => `\\${c}`);
}

/** Markdown for `help.markdown`: rule metadata is ours, but escape Markdown-active characters anyway. */
function md(s: string): string {
  return s.replace(/[\\`*_{}[\]<>#|]/g, (c) => `\\${c}`);
}

/** `QueueSqCqExists` from `queue-sq-cq-exists`: SARIF's reportingDescriptor.name is a readable identifier. */
function ruleName(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

function sentence(s: string): string {
  const t = s.trim();
  return t === '' || /[.!?]$/.test(t) ? t : `${t}.`;
}

function ruleDescriptor(r: RuleMeta): Record<string, unknown> {
  const title = r.title || r.id;
  const explanation = r.explanation || r.message || title;
  const helpText = [sentence(title), r.section ? `Spec: ${r.section}.` : '', sentence(explanation), r.fix ? `Fix: ${sentence(r.fix)}` : '']
    .filter(Boolean)
    .join('\n\n');
  const helpMd = [
    `**${md(title)}**`,
    r.section ? `Spec: ${md(r.section)}` : '',
    md(explanation),
    r.fix ? `**Fix:** ${md(r.fix)}` : '',
    `Rule \`${r.id}\`, family \`${r.family}\`, default severity ${r.severity}.`,
  ]
    .filter(Boolean)
    .join('\n\n');
  const tags = ['nvme', r.family, ...(r.formats ?? []).map((f) => `format:${f}`)];
  return {
    id: r.id,
    name: ruleName(r.id),
    shortDescription: { text: sentence(title) },
    fullDescription: { text: sentence(explanation) },
    help: { text: helpText, markdown: helpMd },
    defaultConfiguration: { level: LEVEL[r.severity] },
    properties: {
      tags: [...new Set(tags)].slice(0, 20),
      precision: 'very-high',
      'problem.severity': PROBLEM_SEVERITY[r.severity],
      ...(r.section ? { section: r.section } : {}),
    },
  };
}

/** `traces/linux boot.log` → `traces/linux%20boot.log`: a URI reference, each path segment percent-encoded. */
function encodePath(p: string): string {
  return p
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
}

interface Artifact {
  uri: string;
  uriBaseId?: string;
}

function artifactFor(file: string, cwd: string): Artifact {
  if (file === '-' || file === '') return { uri: 'stdin' };
  const abs = path.resolve(cwd, file);
  const rel = path.relative(cwd, abs);
  if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) {
    return { uri: encodePath(rel.split(path.sep).join('/')), uriBaseId: SRCROOT };
  }
  return { uri: pathToFileURL(abs).href };
}

export function renderSarif(result: CheckResult, opts: SarifOptions = {}): string {
  return `${safeJson(toSarif(result, opts))}\n`;
}

export function toSarif(result: CheckResult, opts: SarifOptions = {}): Record<string, unknown> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const rules = allRules(result);
  const ruleIndex = new Map(rules.map((r, i) => [r.id, i]));

  // Artifacts: every trace, plus any other file a finding or related line names.
  const artifacts: Artifact[] = [];
  const artifactIndex = new Map<string, number>();
  const artifactOf = (file: string): { index: number; a: Artifact } => {
    let i = artifactIndex.get(file);
    if (i === undefined) {
      i = artifacts.length;
      artifacts.push(artifactFor(file, cwd));
      artifactIndex.set(file, i);
    }
    return { index: i, a: artifacts[i]! };
  };
  for (const f of result.files) artifactOf(f.file);

  const location = (ref: { file: string; line: number; col?: number; raw?: string }): Record<string, unknown> => {
    const { index, a } = artifactOf(ref.file);
    const region: Record<string, unknown> = { startLine: ref.line };
    if (ref.col !== undefined) region.startColumn = ref.col;
    if (ref.raw !== undefined) region.snippet = { text: visible(ref.raw) };
    return {
      physicalLocation: {
        artifactLocation: { ...a, index },
        region,
      },
    };
  };

  const results: Record<string, unknown>[] = [];
  const notifications: Record<string, unknown>[] = [];
  for (const file of result.files) {
    for (const { finding, fingerprint, occurrence } of fingerprintAll(sortFindings(file.findings))) {
      results.push(resultFor(finding, fingerprint, occurrence, ruleIndex.get(finding.rule) ?? -1, location));
    }
    for (const note of fileNotes(file)) {
      notifications.push({ level: 'note', message: { text: messageText(note) }, locations: [location({ file: file.file, line: 1 })] });
    }
  }

  const run: Record<string, unknown> = {
    tool: {
      driver: {
        name: 'nvmeproof',
        fullName: `nvmeproof ${result.tool.version}`,
        version: result.tool.version,
        ...(/^\d+\.\d+\.\d+/.test(result.tool.version) ? { semanticVersion: result.tool.version } : {}),
        informationUri: TOOL_INFORMATION_URI,
        rules: rules.map(ruleDescriptor),
      },
    },
    automationDetails: { id: 'nvmeproof/' },
    invocations: [{ executionSuccessful: true, ...(notifications.length ? { toolExecutionNotifications: notifications } : {}) }],
    originalUriBaseIds: { [SRCROOT]: { uri: `${pathToFileURL(cwd).href.replace(/\/?$/, '/')}` } },
    artifacts: artifacts.map((a) => ({ location: a, roles: ['analysisTarget'], mimeType: 'text/plain' })),
    results,
    columnKind: 'utf16CodeUnits',
  };
  return { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
}

function fileNotes(file: FileResult): string[] {
  const notes = [...file.notes];
  if (file.malformed > 0) notes.push(`${file.malformed} line(s) of ${file.file} could not be parsed`);
  for (const n of file.notChecked) notes.push(`${n.rule} not checked on ${file.file}: ${n.reason}`);
  return notes;
}

function resultFor(
  f: Finding,
  fingerprint: string,
  occurrence: number,
  ruleIndex: number,
  location: (ref: { file: string; line: number; col?: number; raw?: string }) => Record<string, unknown>,
): Record<string, unknown> {
  const related = f.related.map((r: SourceRef, i) => ({
    id: i + 1,
    ...location(r),
    message: { text: messageText(r.note ?? 'related line') },
  }));
  let text = messageText(f.message);
  if (related.length > 0) {
    const links = f.related.map((r, i) => `[${messageText(r.note ?? `line ${r.line}`)}](${i + 1})`);
    text += ` (see ${links.join('; ')})`;
  }
  const properties: Record<string, unknown> = {};
  if (f.binding !== undefined) properties.binding = visible(f.binding);
  if (f.section !== undefined) properties.section = f.section;
  if (f.source !== undefined) properties.source = f.source;
  const out: Record<string, unknown> = {
    ruleId: f.rule,
    ...(ruleIndex >= 0 ? { ruleIndex } : {}),
    level: LEVEL[f.severity],
    message: { text },
    locations: [location(f)],
  };
  if (related.length > 0) out.relatedLocations = related;
  out.partialFingerprints = { [FINGERPRINT_KEY]: `${fingerprint}:${occurrence}` };
  if (Object.keys(properties).length > 0) out.properties = properties;
  return out;
}
