import fs from 'node:fs';
import path from 'node:path';
import * as ohm from 'ohm-js';
import { parse as parseYaml } from 'yaml';
import { grammarPath, specPath } from '../util/paths.js';

/**
 * Serial-log lines (syntax: grammar/serial.ohm). A line is a proof line `<subsystem>: <phrase> key=value ...`,
 * the start of a boot (SeaBIOS banner, `Linux version`), or boot noise. A line that starts with a known
 * proof-line prefix (specs/proof-lines/*.yaml) but does not parse is `malformed`, with the column and what
 * the grammar expected there: a located diagnostic, never an exception.
 *
 * Fast path: most serial lines are noise. A line that holds no `=`, no known prefix and no boot banner cannot
 * be anything but noise under the grammar, so only its timestamp is read, by a small scanner that gives up
 * (and hands the line to Ohm) on anything unusual. test/serial-differential.test.ts runs both paths over the
 * corpus; `parseSerialLine(text, { fastPath: false })` or NVMEPROOF_NO_FASTPATH=1 turns it off.
 */

export interface ProofField {
  key: string;
  value: string;
  /** 1-based column of the key in the original line. */
  col: number;
  /** 1-based column of the value in the original line. */
  valueCol: number;
}

export type SerialLine =
  | { type: 'proof'; subsystem: string; phrase: string; fields: ProofField[]; timestamp?: number; col: number }
  | { type: 'boot-start'; reason: 'seabios' | 'linux-version'; timestamp?: number }
  | { type: 'malformed'; prefix: string; col: number; expected: string; message: string; timestamp?: number }
  | { type: 'noise'; timestamp?: number };

export interface ParseSerialOptions {
  /** Known proof-line prefixes (`nvme: cloud shape classification`); default: those of specs/proof-lines/. */
  prefixes?: readonly string[];
  /** Use the noise fast path (default true unless NVMEPROOF_NO_FASTPATH is set). */
  fastPath?: boolean;
}

let grammar: ohm.Grammar | undefined;
let semantics: ohm.Semantics | undefined;

function serialGrammar(): ohm.Grammar {
  grammar ??= ohm.grammar(fs.readFileSync(grammarPath('serial.ohm'), 'utf8'));
  return grammar;
}

interface LineInfo {
  kind: 'proof' | 'boot-start' | 'rest';
  timestamp?: number;
  restStart: number;
  subsystem?: string;
  phrase?: string;
  fields?: { key: string; value: string; keyAt: number; valueAt: number }[];
  bootReason?: 'seabios' | 'linux-version';
  proofAt?: number;
}

function serialSemantics(): ohm.Semantics {
  if (semantics) return semantics;
  const s = serialGrammar().createSemantics();
  s.addOperation<LineInfo>('info', {
    line(lead, body) {
      const ts = lead.timestamp() as number | undefined;
      const inner = body.info() as LineInfo;
      return { ...inner, timestamp: ts, restStart: body.source.startIdx };
    },
    proof(sub, _colon, _sp, phrase, fields, _trailer, _end) {
      return {
        kind: 'proof',
        restStart: this.source.startIdx,
        proofAt: this.source.startIdx,
        subsystem: sub.sourceString,
        phrase: phrase.sourceString,
        fields: fields.fieldList() as LineInfo['fields'],
      };
    },
    bootStart(b) {
      return { kind: 'boot-start', restStart: this.source.startIdx, bootReason: b.ctorName === 'seabios' ? 'seabios' : 'linux-version' };
    },
    rest(_any) {
      return { kind: 'rest', restStart: this.source.startIdx };
    },
  });
  s.addOperation<number | undefined>('timestamp', {
    lead(junk1, ts, junk2) {
      void junk1;
      void junk2;
      return ts.children.length ? (ts.children[0]!.timestamp() as number) : undefined;
    },
    timestamp(_o, _sp, secs, _c, _sp2) {
      return Number(secs.sourceString);
    },
  });
  s.addOperation<{ key: string; value: string; keyAt: number; valueAt: number }[]>('fieldList', {
    fields(_spaces, list) {
      return list.children.map((f) => f.field() as { key: string; value: string; keyAt: number; valueAt: number });
    },
  });
  s.addOperation<{ key: string; value: string; keyAt: number; valueAt: number }>('field', {
    field(key, _eq, value) {
      const v = value.sourceString;
      const unq = v.startsWith('"') ? v.slice(1, -1) : v;
      return { key: key.sourceString, value: unq, keyAt: key.source.startIdx, valueAt: value.source.startIdx + (v.startsWith('"') ? 1 : 0) };
    },
  });
  semantics = s;
  return s;
}

let defaultPrefixes: string[] | undefined;

/** The `prefix:` of every spec in specs/proof-lines/ (read once). */
export function knownProofPrefixes(): string[] {
  if (defaultPrefixes) return defaultPrefixes;
  const dir = specPath('proof-lines');
  const out: string[] = [];
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) {
      if (!/\.ya?ml$/.test(f)) continue;
      try {
        const data = parseYaml(fs.readFileSync(path.join(dir, f), 'utf8')) as { prefix?: unknown } | null;
        if (data && typeof data.prefix === 'string') out.push(data.prefix);
      } catch {
        // An unreadable spec is reported by `specs validate` and by the proof-line loader, not here.
      }
    }
  }
  defaultPrefixes = out;
  return out;
}

const ENV_NO_FAST = !!process.env.NVMEPROOF_NO_FASTPATH;

/** Where the visible line starts: after the last bare CR (a console overwrite), ignoring trailing CRs. */
function overwriteBase(text: string): { base: number; end: number } {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 13) end--;
  const cr = text.lastIndexOf('\r', end - 1);
  return { base: cr === -1 ? 0 : cr + 1, end };
}

/** Scans `[  ansi|<n>|space ]* [timestamp] ...` by hand; undefined when unsure (then Ohm decides). */
function fastTimestamp(s: string): { ok: true; ts?: number } | { ok: false } {
  let i = 0;
  const n = s.length;
  const skipJunk = (): boolean => {
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9) i++;
      else if (c === 0x1b) {
        const d = s.charCodeAt(i + 1);
        if (d === 0x5b) {
          // CSI: params 0x30-0x3f, intermediates 0x20-0x2f, final 0x40-0x7e
          let j = i + 2;
          while (j < n && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++;
          while (j < n && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
          const f = s.charCodeAt(j);
          if (!(f >= 0x40 && f <= 0x7e)) return false;
          i = j + 1;
        } else if (d >= 0x30 && d <= 0x7e && d !== 0x5d) i += 2;
        else return false; // OSC or a broken escape: let Ohm decide
      } else if (c === 60 /* < */) {
        let j = i + 1;
        while (j < n && j - i <= 3 && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
        if (j === i + 1 || s.charCodeAt(j) !== 62) return true; // not a log level: the lead ends here
        i = j + 1;
      } else return true;
    }
  };
  if (!skipJunk()) return { ok: false };
  if (s.charCodeAt(i) !== 91 /* [ */) return { ok: true };
  let j = i + 1;
  while (s.charCodeAt(j) === 32) j++;
  const d0 = j;
  while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
  if (j === d0 || s.charCodeAt(j) !== 46) return { ok: true };
  const f0 = ++j;
  while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
  if (j === f0 || s.charCodeAt(j) !== 93) return { ok: true };
  return { ok: true, ts: Number(s.slice(d0, j)) };
}

function startsWithPrefixAt(s: string, at: number, prefixes: readonly string[]): string | undefined {
  for (const p of prefixes) {
    if (s.startsWith(p, at)) {
      const next = s.charCodeAt(at + p.length);
      // the prefix must end at a word boundary: end of line, space, or something that is not a phrase char
      if (Number.isNaN(next) || !/[a-z0-9-]/.test(String.fromCharCode(next))) return p;
    }
  }
  return undefined;
}

export function parseSerialLine(text: string, opts: ParseSerialOptions = {}): SerialLine {
  const prefixes = opts.prefixes ?? knownProofPrefixes();
  const fast = opts.fastPath ?? !ENV_NO_FAST;
  const { base, end } = overwriteBase(text);
  const s = base === 0 && end === text.length ? text : text.slice(base, end);

  if (fast && s.indexOf('=') === -1 && s.indexOf('SeaBIOS (version ') === -1 && s.indexOf('Linux version ') === -1 && !prefixes.some((p) => s.includes(p))) {
    const t = fastTimestamp(s);
    if (t.ok) return t.ts === undefined ? { type: 'noise' } : { type: 'noise', timestamp: t.ts };
  }

  const g = serialGrammar();
  const m = g.match(s, 'line');
  if (m.failed()) return { type: 'noise' }; // cannot happen (`rest` matches anything), kept for safety
  const info = serialSemantics()(m).info() as LineInfo;
  const ts = info.timestamp;
  const withTs = <T extends object>(o: T): T & { timestamp?: number } => (ts === undefined ? o : { ...o, timestamp: ts });

  if (info.kind === 'proof') {
    return withTs({
      type: 'proof' as const,
      subsystem: info.subsystem!,
      phrase: info.phrase!,
      col: base + info.proofAt! + 1,
      fields: info.fields!.map((f) => ({ key: f.key, value: f.value, col: base + f.keyAt + 1, valueCol: base + f.valueAt + 1 })),
    });
  }
  if (info.kind === 'boot-start') return withTs({ type: 'boot-start' as const, reason: info.bootReason! });

  const prefix = startsWithPrefixAt(s, info.restStart, prefixes);
  if (prefix !== undefined) {
    const pm = g.match(s, 'proofLine');
    const pos = pm.failed() ? pm.getRightmostFailurePosition() : info.restStart;
    let expected = pm.failed() ? pm.getExpectedText() : 'a proof line';
    if (pos >= s.length) expected = `${expected} (the line ends here)`;
    const col = base + pos + 1;
    const got = pos < s.length ? ` but found ${JSON.stringify(s.slice(pos, pos + 12))}` : '';
    return withTs({
      type: 'malformed' as const,
      prefix,
      col,
      expected,
      message: `malformed \`${prefix}\` line at column ${col}: expected ${expected}${got}`,
    });
  }
  return withTs({ type: 'noise' as const });
}

/**
 * Boot separation. A boot starts at a firmware banner (SeaBIOS), at `Linux version` (unless the firmware
 * banner of this same boot came first and no kernel line was seen since), or when the kernel timestamp goes
 * back to near zero (a reboot without firmware output, e.g. kexec or `-kernel` with a quiet firmware).
 */
export interface BootChange {
  boot: number;
  /** true when this line started a new boot (the first boot of a log starts at line 1 and is not a change). */
  started: boolean;
  reason?: string;
}

export class BootTracker {
  /** 1-based number of the current boot. */
  boot = 1;
  startLine = 1;
  startReason = 'start of log';
  private lastTs: number | undefined;
  private firmwareOnly = false; // current boot began with a firmware banner; no kernel output yet
  private sawContent = false;
  /** Timestamp below which a backwards jump counts as a restart, in seconds. */
  static readonly RESET_WINDOW = 1.0;

  feed(line: SerialLine, lineNo: number): BootChange {
    let reason: string | undefined;
    const ts = line.timestamp;
    if (line.type === 'boot-start') {
      if (line.reason === 'seabios') {
        reason = 'SeaBIOS banner';
      } else if (!this.firmwareOnly) {
        reason = '`Linux version` line';
      }
    } else if (ts !== undefined && this.lastTs !== undefined && ts < this.lastTs && ts < BootTracker.RESET_WINDOW && !this.firmwareOnly) {
      reason = `kernel timestamp went back from ${this.lastTs.toFixed(6)} to ${ts.toFixed(6)}`;
    }
    let started = false;
    if (reason !== undefined && this.sawContent) {
      this.boot++;
      this.startLine = lineNo;
      this.startReason = reason;
      this.lastTs = undefined;
      started = true;
    } else if (reason !== undefined && !this.sawContent) {
      this.startReason = reason;
      this.startLine = lineNo;
    }
    // Untimestamped noise (blank lines, firmware chatter) does not make a boot "have content".
    if (line.type !== 'noise' || ts !== undefined) this.sawContent = true;
    if (line.type === 'boot-start') this.firmwareOnly = line.reason === 'seabios';
    else if (ts !== undefined || line.type === 'proof' || line.type === 'malformed') this.firmwareOnly = false;
    if (ts !== undefined) this.lastTs = ts;
    return started ? { boot: this.boot, started, reason } : { boot: this.boot, started };
  }
}
