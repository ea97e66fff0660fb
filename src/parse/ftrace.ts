import type * as ohm from 'ohm-js';
import { grammarFromFile } from '../util/ohm.js';
import { loadEventDefs, type EventDef } from './event-spec.js';
import { diagnose, slowMatch, MAX_OHM_DIAGNOSIS } from './template.js';

/** NVMEPROOF_NO_FAST_PATH=1 parses every line with the Ohm grammars only (slow; for cross-checking). */
const FAST = process.env.NVMEPROOF_NO_FAST_PATH !== '1';
import type { LineParser, ParseDiagnostic, TraceRecord } from './record.js';

let envelope: ohm.Grammar | undefined;
function envelopeGrammar(): ohm.Grammar {
  envelope ??= grammarFromFile('ftrace.ohm');
  return envelope;
}

/**
 * Linux ftrace text (`/sys/kernel/tracing/trace`). The envelope is scanned by hand on the fast path
 * (same meaning as grammar/ftrace.ohm, which explains failures); bodies use specs/trace/ftrace-events.yaml.
 */
export class FtraceParser implements LineParser {
  readonly format = 'ftrace' as const;
  readonly diagnostics: ParseDiagnostic[] = [];
  readonly unknownEvents = new Map<string, number>();
  otherLines = 0;
  skipped = 0;
  private readonly defs: Map<string, EventDef>;

  constructor(defs = loadEventDefs('ftrace')) {
    this.defs = defs;
  }

  parse(text: string, line: number): TraceRecord | undefined {
    const t = text.trimStart();
    if (t === '' || t.charCodeAt(0) === 35 /* # */) {
      this.otherLines++;
      return undefined;
    }
    const env = this.envelope(text);
    if (!env && !/-\d+ +\[\d+\]|\d+\.\d+: nvme_[a-z_]+: /.test(text)) {
      // Serial consoles interleave boot output with the cat'ed trace: not ftrace records, not errors.
      this.otherLines++;
      return undefined;
    }
    if (!env && text.length > MAX_OHM_DIAGNOSIS) {
      this.diagnostics.push({ line, col: 1, message: `not an ftrace record (${text.length} characters)`, raw: text });
      return undefined;
    }
    if (!env) {
      const m = envelopeGrammar().match(text);
      const col = m.failed() ? m.getRightmostFailurePosition() + 1 : 1;
      this.diagnostics.push({ line, col, message: `not an ftrace record: expected ${m.failed() ? m.getExpectedText() : 'TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: BODY'}`, raw: text });
      return undefined;
    }
    const def = this.defs.get(env.event);
    if (!def) {
      this.unknownEvents.set(env.event, (this.unknownEvents.get(env.event) ?? 0) + 1);
      return undefined;
    }
    const fields = FAST ? def.tpl.match(text, env.bodyStart) : slowMatch(def.tpl, text, env.bodyStart);
    if (fields === null) {
      const d = diagnose(def.tpl, text, env.bodyStart, env.event);
      this.diagnostics.push({ line, col: d.offset + 1, message: d.expected, raw: text });
      return undefined;
    }
    fields.task = env.task;
    fields.pid = env.pid;
    fields.cpu = env.cpu;
    fields.timestamp = env.timestamp;
    return { name: env.event, fields, line, raw: text, cls: 'info' };
  }

  private envelope(text: string): { task: string; pid: number; cpu: number; timestamp: string; event: string; bodyStart: number } | null {
    const lb = text.indexOf(' [');
    if (lb === -1) return null;
    const rb = text.indexOf(']', lb);
    if (rb === -1) return null;
    const head = text.slice(0, lb).trimStart().trimEnd();
    const dash = head.lastIndexOf('-');
    if (dash <= 0) return null;
    const pidText = head.slice(dash + 1);
    if (!/^\d+$/.test(pidText)) return null;
    const cpuText = text.slice(lb + 2, rb);
    if (!/^\d+$/.test(cpuText)) return null;
    // " FLAGS   TIMESTAMP: EVENT: "
    const m = /^ +\S+ +(\d+\.\d+): ([A-Za-z0-9_]+): /.exec(text.slice(rb + 1));
    if (!m) return null;
    return {
      task: head.slice(0, dash),
      pid: Number(pidText),
      cpu: Number(cpuText),
      timestamp: m[1]!,
      event: m[2]!,
      bodyStart: rb + 1 + m[0].length,
    };
  }
}
