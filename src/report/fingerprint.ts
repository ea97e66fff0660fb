import { createHash } from 'node:crypto';
import type { Finding } from '../findings/finding.js';

/**
 * A finding's identity across runs: what it is about, not where it happens to sit. The line number is
 * left out on purpose, and so are the parts of a trace line that change from run to run without meaning
 * anything (timestamps, PIDs, CPU numbers, colour codes), so a baseline survives unrelated lines being
 * added to or removed from a trace, and a re-run of the same boot.
 */

export const FINGERPRINT_VERSION = 'v1';

const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;

/** Run-to-run noise at the start of a line, in the formats we read. */
const PREFIXES: RegExp[] = [
  // QEMU `log` trace backend: `PID@SECONDS.MICROS:`
  /^\s*\d+@\d+(?:\.\d+)?:\s*/,
  // syslog-style kernel level `<6>`, then printk time `[    1.234567]`
  /^\s*<\d>\s*/,
  /^\s*\[\s*\d+\.\d+\]\s*/,
  // ftrace: `  kworker/u4:1-25      [000] .....     2.203217: ` (TASK-PID, optional TGID, CPU, flags, timestamp)
  /^\s*.+?-\d+\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\]\s+(?:[^\s]{4,6}\s+)?\d+\.\d+:\s*/,
];

/** Timestamps and process ids written as fields anywhere on the line (canonical traces, proof lines). */
const FIELDS = /\b(?:ts|time|timestamp|t|pid|tid|tgid|cpu|uptime)[=:]\s*\d+(?:\.\d+)?\b/gi;

/** The content of a trace line that identifies a finding: the raw line without its per-run noise. */
export function normaliseContent(raw: string): string {
  let s = raw.replace(ANSI, '');
  for (const re of PREFIXES) s = s.replace(re, '');
  s = s.replace(FIELDS, (m) => m.replace(/\d+(?:\.\d+)?$/, '#'));
  return s.replace(/\s+/g, ' ').trim();
}

/** Messages may mention line numbers ("CQ 1 was deleted at line 398"): those are not identity either. */
export function normaliseMessage(message: string): string {
  return message
    .replace(/\blines? \d+(?:\s*(?:-|–|\.\.|to|and)\s*\d+)?/gi, 'line #')
    .replace(/:\d+\b/g, ':#')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Hash of rule + binding + normalised content (the raw line, or the message when there is none). */
export function fingerprint(f: Pick<Finding, 'rule' | 'binding' | 'raw' | 'message'>): string {
  const content = f.raw !== undefined && f.raw.trim() !== '' ? `raw:${normaliseContent(f.raw)}` : `msg:${normaliseMessage(f.message)}`;
  return createHash('sha256')
    .update([FINGERPRINT_VERSION, f.rule, f.binding ?? '', content].join('\u0000'))
    .digest('hex')
    .slice(0, 32);
}

export interface FingerprintedFinding {
  finding: Finding;
  fingerprint: string;
  /** 1 for the first finding with this fingerprint in its file, 2 for the second, ... */
  occurrence: number;
}

/** Fingerprints for the findings of one file, in order, each with its occurrence among equal fingerprints. */
export function fingerprintAll(findings: readonly Finding[]): FingerprintedFinding[] {
  const seen = new Map<string, number>();
  return findings.map((finding) => {
    const fp = fingerprint(finding);
    const occurrence = (seen.get(fp) ?? 0) + 1;
    seen.set(fp, occurrence);
    return { finding, fingerprint: fp, occurrence };
  });
}
