import fs from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { createAjv } from '../specs/load.js';
import type { CheckResult, FileResult, Finding } from '../findings/finding.js';
import { UserError, type Located } from '../util/errors.js';
import { SPECS_DIR } from '../util/paths.js';
import { countFindings, displayPath } from './common.js';
import { safeJson } from './escape.js';
import { FINGERPRINT_VERSION, fingerprintAll } from './fingerprint.js';

/**
 * Baselines: a JSON file of findings accepted as known (schema: report.schema.json#/$defs/baseline).
 * Entries match by file and fingerprint, never by line number, and carry a count, so the baseline
 * survives lines added or removed elsewhere in a trace, and a finding that starts occurring more often
 * than accepted shows up as new.
 */

export const BASELINE_SCHEMA_VERSION = '1.0.0';

export interface BaselineEntry {
  file: string;
  rule: string;
  fingerprint: string;
  count: number;
  severity?: Finding['severity'];
  line?: number;
  message?: string;
}

export interface Baseline {
  kind: 'nvmeproof-baseline';
  schemaVersion: string;
  fingerprintVersion: string;
  tool: { name: 'nvmeproof'; version: string };
  entries: BaselineEntry[];
}

export interface BaselineOptions {
  /** Paths inside it are stored relative to it, so a baseline written in a checkout works in another. */
  cwd?: string;
  /** Match on fingerprint alone, whatever file the finding is in (for traces whose name changes per run). */
  ignoreFile?: boolean;
}

function fileKey(file: string, opts: BaselineOptions): string {
  return opts.ignoreFile ? '' : displayPath(file, opts.cwd);
}

/** A baseline that accepts every finding of `result`. */
export function createBaseline(result: CheckResult, opts: BaselineOptions = {}): Baseline {
  const byKey = new Map<string, BaselineEntry>();
  for (const file of result.files) {
    for (const { finding, fingerprint } of fingerprintAll(file.findings)) {
      const key = `${displayPath(finding.file, opts.cwd)}\u0000${fingerprint}`;
      const e = byKey.get(key);
      if (e) {
        e.count++;
        continue;
      }
      byKey.set(key, {
        file: displayPath(finding.file, opts.cwd),
        rule: finding.rule,
        fingerprint,
        count: 1,
        severity: finding.severity,
        line: finding.line,
        message: finding.message,
      });
    }
  }
  const entries = [...byKey.values()].sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.rule.localeCompare(b.rule) || a.fingerprint.localeCompare(b.fingerprint),
  );
  return {
    kind: 'nvmeproof-baseline',
    schemaVersion: BASELINE_SCHEMA_VERSION,
    fingerprintVersion: FINGERPRINT_VERSION,
    tool: { name: 'nvmeproof', version: result.tool.version },
    entries,
  };
}

export function serializeBaseline(b: Baseline): string {
  return `${safeJson(b)}\n`;
}

let validator: ValidateFunction | undefined;
function baselineValidator(): ValidateFunction {
  if (validator) return validator;
  const schema = JSON.parse(fs.readFileSync(path.join(SPECS_DIR, 'schema', 'report.schema.json'), 'utf8')) as { $id: string };
  const ajv = createAjv({ allErrors: true, strict: true });
  ajv.addSchema(schema);
  const v = ajv.getSchema(`${schema.$id}#/$defs/baseline`);
  if (!v) throw new Error('report.schema.json has no $defs/baseline');
  validator = v;
  return v;
}

/** Parses and validates a baseline; `source` names it in errors. Throws UserError (exit 2) when it is not one. */
export function parseBaseline(text: string, source: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source} is not a baseline: ${(e as Error).message}`);
  }
  const v = baselineValidator();
  if (!v(data)) {
    const details: Located[] = (v.errors ?? []).slice(0, 20).map((err) => ({
      file: source,
      line: 1,
      col: 1,
      message: `${err.instancePath || '(root)'} ${err.message ?? 'is invalid'}`,
    }));
    throw new UserError(`${source} is not a valid nvmeproof baseline (schema ${BASELINE_SCHEMA_VERSION})`, details);
  }
  return data as Baseline;
}

export function readBaseline(file: string): Baseline {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read baseline ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseBaseline(text, file);
}

export function writeBaseline(file: string, result: CheckResult, opts: BaselineOptions = {}): Baseline {
  const b = createBaseline(result, opts);
  fs.writeFileSync(file, serializeBaseline(b));
  return b;
}

/**
 * The result with the findings the baseline accepts removed and the summary recounted; `baseline` on the
 * result says how many were accepted and how many baseline entries no longer occur.
 */
export function applyBaseline(result: CheckResult, baseline: Baseline, opts: BaselineOptions & { baselineFile?: string } = {}): CheckResult {
  const remaining = new Map<string, number>();
  for (const e of baseline.entries) {
    const key = `${opts.ignoreFile ? '' : e.file}\u0000${e.fingerprint}`;
    remaining.set(key, (remaining.get(key) ?? 0) + e.count);
  }
  let accepted = 0;
  const files: FileResult[] = result.files.map((file) => {
    const kept: Finding[] = [];
    for (const { finding, fingerprint } of fingerprintAll(file.findings)) {
      const key = `${fileKey(finding.file, opts)}\u0000${fingerprint}`;
      const left = remaining.get(key) ?? 0;
      if (left > 0) {
        remaining.set(key, left - 1);
        accepted++;
      } else kept.push(finding);
    }
    return { ...file, findings: kept };
  });
  let stale = 0;
  for (const n of remaining.values()) stale += n;
  const all = files.flatMap((f) => f.findings);
  const c = countFindings(all);
  const out: CheckResult = {
    ...result,
    files,
    summary: { ...result.summary, errors: c.errors, warnings: c.warnings, infos: c.infos },
    baseline: { accepted, stale },
  };
  if (opts.baselineFile !== undefined) out.baseline = { file: opts.baselineFile, accepted, stale };
  return out;
}
