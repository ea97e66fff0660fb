import fs from 'node:fs';
import path from 'node:path';
import type * as ohm from 'ohm-js';
import { grammarFromFile } from '../util/ohm.js';
import { yamlLib } from '../specs/load.js';
import { specPath } from '../util/paths.js';

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
  | { type: 'malformed'; prefix: string; col: number; expected: string; found: string; message: string; timestamp?: number }
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
  grammar ??= grammarFromFile('serial.ohm');
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
        const data = yamlLib().parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { prefix?: unknown } | null;
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

/**
 * Scans the lead `(ansi | <n> | space)* [timestamp] (ansi | <n> | space)*` by hand, as grammar/serial.ohm reads
 * it; `ok: false` when unsure (then Ohm decides). `end` is where the lead stops.
 */
function fastLead(s: string): { ok: true; ts?: number; end: number } | { ok: false } {
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
  if (s.charCodeAt(i) !== 91 /* [ */) return { ok: true, end: i };
  let j = i + 1;
  while (s.charCodeAt(j) === 32) j++;
  const d0 = j;
  while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
  if (j === d0 || s.charCodeAt(j) !== 46) return { ok: true, end: i };
  const f0 = ++j;
  while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
  if (j === f0 || s.charCodeAt(j) !== 93) return { ok: true, end: i };
  const ts = Number(s.slice(d0, j));
  i = j + 1;
  if (!skipJunk()) return { ok: false };
  return { ok: true, ts, end: i };
}

const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isWordChar = (c: number): boolean => isLower(c) || isDigit(c) || c === 45;
const isKeyChar = (c: number): boolean => isLower(c) || isDigit(c) || c === 95 || c === 45 || c === 46;

/**
 * The proof rule of grammar/serial.ohm for the plain case (printable ASCII, no quotes, tabs or escapes after the
 * lead), by hand. Returns undefined whenever it is not a clean match, and Ohm decides; the differential test
 * holds the two to the same answers.
 */
function fastProof(s: string, at: number): { subsystem: string; phrase: string; fields: { key: string; value: string; keyAt: number; valueAt: number }[] } | undefined {
  const n = s.length;
  for (let k = at; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c < 32 || c > 126 || c === 34) return undefined;
  }
  let i = at;
  if (!isLower(s.charCodeAt(i))) return undefined;
  i++;
  while (i < n && (isLower(s.charCodeAt(i)) || isDigit(s.charCodeAt(i)) || s.charCodeAt(i) === 95 || s.charCodeAt(i) === 45)) i++;
  const subsystem = s.slice(at, i);
  if (s.charCodeAt(i) !== 58 || s.charCodeAt(i + 1) !== 32) return undefined;
  i += 2;
  // phrase = word (" " word)*, a word ending at a space or the end of the line
  const p0 = i;
  const word = (k: number): number => {
    let j = k;
    while (j < n && isWordChar(s.charCodeAt(j))) j++;
    if (j === k) return -1;
    return j === n || s.charCodeAt(j) === 32 ? j : -1;
  };
  let e = word(i);
  if (e < 0) return undefined;
  i = e;
  while (s.charCodeAt(i) === 32) {
    const e2 = word(i + 1);
    if (e2 < 0) break;
    i = e2;
  }
  const phrase = s.slice(p0, i);
  const fields: { key: string; value: string; keyAt: number; valueAt: number }[] = [];
  for (;;) {
    let j = i;
    while (s.charCodeAt(j) === 32) j++;
    if (j === i) break;
    if (!isLower(s.charCodeAt(j))) break; // not a field: only trailing spaces may follow
    const k0 = j;
    while (j < n && isKeyChar(s.charCodeAt(j))) j++;
    if (s.charCodeAt(j) !== 61) return undefined;
    const v0 = j + 1;
    j = v0;
    while (j < n && s.charCodeAt(j) !== 32 && s.charCodeAt(j) !== 61) j++;
    if (j === v0 || s.charCodeAt(j) === 61) return undefined;
    fields.push({ key: s.slice(k0, v0 - 1), value: s.slice(v0, j), keyAt: k0, valueAt: v0 });
    i = j;
  }
  if (!fields.length) return undefined;
  while (s.charCodeAt(i) === 32) i++;
  return i === n ? { subsystem, phrase, fields } : undefined;
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

  if (fast) {
    const lead = fastLead(s);
    if (lead.ok) {
      const ts = lead.ts;
      // A banner counts only right after the lead (proof lines start lower-case, banners upper-case).
      const banner = s.startsWith('SeaBIOS (version ', lead.end) ? 'seabios' : s.startsWith('Linux version ', lead.end) ? 'linux-version' : undefined;
      if (banner) return ts === undefined ? { type: 'boot-start', reason: banner } : { type: 'boot-start', reason: banner, timestamp: ts };
      const known = prefixes.some((p) => s.includes(p));
      if (!known) {
        // Without a known prefix a line is a proof line only if it has `<lower...>: ` right after the lead and a `=`.
        let j = lead.end;
        const proofShaped = isLower(s.charCodeAt(j)) && s.indexOf('=', j) !== -1 && ((): boolean => {
          while (j < s.length && (isLower(s.charCodeAt(j)) || isDigit(s.charCodeAt(j)) || s.charCodeAt(j) === 95 || s.charCodeAt(j) === 45)) j++;
          return s.charCodeAt(j) === 58 && s.charCodeAt(j + 1) === 32;
        })();
        if (!proofShaped) return ts === undefined ? { type: 'noise' } : { type: 'noise', timestamp: ts };
      }
      const p = fastProof(s, lead.end);
      if (p) {
        const out: SerialLine = {
          type: 'proof',
          subsystem: p.subsystem,
          phrase: p.phrase,
          col: base + lead.end + 1,
          fields: p.fields.map((f) => ({ key: f.key, value: f.value, col: base + f.keyAt + 1, valueCol: base + f.valueAt + 1 })),
        };
        if (ts !== undefined) out.timestamp = ts;
        return out;
      }
    }
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
    const found = pos < s.length ? JSON.stringify(s.slice(pos, pos + 12)) : 'the end of the line';
    const got = pos < s.length ? ` but found ${found}` : '';
    return withTs({
      type: 'malformed' as const,
      prefix,
      col,
      expected,
      found,
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
