import fs from 'node:fs';
import { displayName, headLines, holdHead, isRegularFile, lineBatches, openLines, TraceFileText, type LineBatch, type LineSource } from '../read/lines.js';
import { pipelinedBatches } from '../read/pipeline.js';
import { KeptLines, typedChunkBatches, typedQemuBatches, type TypedBatch } from '../read/qemu-batches.js';
import { detectFormat } from './detect.js';
import { QemuParser } from '../parse/qemu.js';
import { FtraceParser } from '../parse/ftrace.js';
import type { LineParser, TraceFormat, TraceRecord } from '../parse/record.js';
import { qemuEventsOf, typedEventsOf, QEMU_MODEL_EVENTS } from '../normalise/qemu.js';
import { recordsOf } from '../parse/records-of.js';
import { normaliseFtrace } from '../normalise/ftrace.js';
import { CanonicalParser, readCanonicalHeader, type CanonRecord } from '../parse/canonical.js';
import { CanonicalNormaliser } from '../normalise/canonical.js';
import { AuthorityModel, authorityNotChecked } from '../model/authority.js';
import type { Ev } from '../normalise/event.js';
import { ControllerModel } from '../model/controller.js';
import { loadShape, type ControllerShape } from '../model/shape.js';
import { loadNvmeSpec } from '../specs/nvme.js';
import { loadCatalog, type Catalog } from '../rules/catalog.js';
import { RuleEngine } from '../rules/engine.js';
import type { FileResult, Finding } from '../findings/finding.js';
import { UserError } from '../util/errors.js';
import { SerialProofChecker } from '../proof/check.js';
import { classifyFile } from '../classify/classify.js';
import { loadNamespaceFile, mergeNamespaces } from '../disk/descriptor.js';
import type { DeclaredNamespace } from '../disk/ns-state.js';

/**
 * Files at least this large are read on a second thread. Below it, the second thread costs about what it saves
 * (measured, interleaved, session 4: one thread as fast at 1M lines / 51 MiB and at 2M / 101 MiB, with a third
 * less CPU time and 30 MB less memory; two threads 10% faster at 3M / 152 MiB, 1.3x faster at 10M / 506 MiB).
 */
const PIPELINE_MIN_BYTES = 128 << 20;

function usePipeline(name: string, opts: CheckOptions): boolean {
  if (name === '-' || opts.pipeline === false || process.env.NVMEPROOF_THREADS === '1') return false;
  if (opts.pipeline === true) return true;
  try {
    return fs.statSync(name).size >= PIPELINE_MIN_BYTES;
  } catch {
    return false;
  }
}

export interface CheckOptions {
  /** false: parse QEMU lines as strings only (the WebAssembly typer's reference, for tests); default: type them from the read buffer. */
  byteParsing?: boolean;
  /** false: read on this thread only (the worker pool already spreads files over the cores); true: always use the reading thread; default: for files of 128 MiB or more. */
  pipeline?: boolean;
  format?: TraceFormat;
  shape?: string | ControllerShape;
  /** Namespace geometry laid over the shape's (--namespace FILE: kind disk-namespaces or disk; src/disk). */
  namespace?: string | DeclaredNamespace[];
  rulesDirs?: string[];
  catalog?: Catalog;
  maxFindings?: number;
  onFinding?: (f: Finding) => void;
  onProgress?: (lines: number, findings: number) => void;
}

class StopEarly extends Error {}

const NO_BATCHES: AsyncIterator<LineBatch> = { next: async () => ({ done: true, value: undefined }) };

/** Reads the first batches until the format is clear (or the input ends), keeping them for replay. */
async function sniff(it: AsyncIterator<LineBatch>): Promise<{ held: LineBatch[]; format?: TraceFormat; done: boolean }> {
  const held: LineBatch[] = [];
  let lines: string[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { held, format: detectFormat(lines), done: true };
    held.push(r.value);
    lines = lines.concat(r.value.lines.slice(0, 400));
    if (lines.length >= 200) return { held, format: detectFormat(lines), done: false };
  }
}

function parserFor(format: TraceFormat, onOther?: (text: string, line: number) => void): LineParser {
  if (format === 'qemu') return new QemuParser({ wanted: QEMU_MODEL_EVENTS, onOther });
  if (format === 'ftrace') return new FtraceParser();
  if (format === 'canonical') return new CanonicalParser({ onOther });
  throw new UserError(`input format '${format}' is not supported by the wire checker yet`);
}

/** read -> parse -> normalise -> model -> rules, streaming, for one trace file. */
export async function checkTrace(name: string, opts: CheckOptions = {}): Promise<FileResult> {
  // DMA evidence matrices are YAML documents, not line streams: the classifier reads them whole.
  if (opts.format === 'evidence' || (opts.format === undefined && name !== '-' && /\.evidence\.ya?ml$|\.ya?ml$/.test(name))) return checkEvidence(name);
  // A QEMU trace file is typed from its bytes, read again from the start: its format is told from one blocking
  // read of its head, with no stream set up only to be dropped.
  const typable = opts.byteParsing !== false && (opts.format === undefined || opts.format === 'qemu');
  const head = typable ? headLines(name) : undefined;
  const typedQemu = head !== undefined && (opts.format ?? detectFormat(head)) === 'qemu';
  // A named pipe, a terminal, a process substitution (`check <(qemu ...)`) or standard input gives its lines
  // once: its head is held while its format is told, then given again before the rest.
  const rereadable = typedQemu || isRegularFile(name);
  const once = typable && !rereadable ? await holdHead(name) : undefined;
  const typedStream = once !== undefined && (opts.format ?? detectFormat(once.lines)) === 'qemu' ? once.chunks : undefined;
  const display = displayName(name);
  const source: LineSource | undefined = typedQemu || typedStream ? undefined : once ? { name: display, batches: () => lineBatches(once.chunks(), display) } : openLines(name);
  const file = source?.name ?? display;
  const it: AsyncIterator<LineBatch> = source ? source.batches()[Symbol.asyncIterator]() : NO_BATCHES;
  const { held, format: sniffed, done } = source ? await sniff(it) : { held: [], format: 'qemu' as const, done: true };
  const format = opts.format ?? sniffed;
  if (!format) throw new UserError(`${file}: no NVMe events found: not a QEMU pci_nvme_* trace, ftrace nvme trace, canonical trace or serial log (use --input-format to say which)`);
  if (format === 'serial') return checkSerial(file, held, done ? undefined : it, opts);
  // `qemu ... 2>&1` interleaves the guest's serial console with the trace: its proof lines are checked too.
  let serial: SerialProofChecker | undefined;
  const onOther = (text: string, line: number): void => {
    if (!serial && !/^(\x1b\S*)?(\[\s*\d+\.\d+\]\s*)?[a-z][\w-]*: [a-z]/.test(text)) return;
    serial ??= new SerialProofChecker({ file });
    serial.line(text, line);
  };
  const parser = parserFor(format, onOther);
  // A large QEMU trace is read again from the start on a second thread, started now so that it boots while
  // this thread loads the specs and rules.
  const threaded = typedQemu && format === 'qemu' && usePipeline(name, opts) ? pipelinedBatches(name) : undefined;
  try {
    return await checkEvents(name, opts, { file, format, it, held, done, rereadable, typedStream, parser, threaded: threaded?.batches, serial: () => serial });
  } finally {
    await threaded?.close();
  }
}

interface EventSource {
  file: string;
  format: TraceFormat;
  /** The sniffing read: its held batches, and the rest of it unless it ended. */
  it: AsyncIterator<LineBatch>;
  held: LineBatch[];
  done: boolean;
  /** The file can be read again from its start (a regular file). */
  rereadable: boolean;
  /** A QEMU trace read once (standard input, a named pipe): its bytes, from the first. */
  typedStream?: () => AsyncGenerator<Buffer>;
  parser: LineParser;
  /** Batches from the reading thread, for a large QEMU trace. */
  threaded?: AsyncGenerator<TypedBatch>;
  /** The proof-line checker of serial output interleaved with the trace, if any showed up. */
  serial: () => SerialProofChecker | undefined;
}

/** parse -> normalise -> model -> rules over a line-oriented trace whose format is known. */
async function checkEvents(name: string, opts: CheckOptions, src: EventSource): Promise<FileResult> {
  const { file, format, it, held, done, parser, threaded } = src;
  const spec = loadNvmeSpec();
  let shape = typeof opts.shape === 'object' ? opts.shape : loadShape(opts.shape ?? 'qemu-nvme');
  if (opts.namespace) shape = { ...shape, namespaces: mergeNamespaces(shape.namespaces, typeof opts.namespace === 'string' ? loadNamespaceFile(opts.namespace) : opts.namespace) };
  const catalog = opts.catalog ?? loadCatalog(opts.rulesDirs ?? []);
  let findingsCount = 0;
  const engine = new RuleEngine(catalog, file, (f) => {
    findingsCount++;
    opts.onFinding?.(f);
    if (opts.maxFindings !== undefined && findingsCount >= opts.maxFindings) throw new StopEarly();
  });
  // Canonical traces: the header says whether register accesses and authors are in the trace.
  const canon = format === 'canonical' ? readCanonicalHeader(held.flatMap((b) => b.lines.slice(0, 400))) : undefined;
  const canonical = format === 'canonical' ? new CanonicalNormaliser({ dstrd: canon?.dstrd ?? shape.cap.dstrd }) : undefined;
  const authority = canonical && (canon?.authors ?? true) ? new AuthorityModel(file, engine, { dstrd: canon?.dstrd ?? shape.cap.dstrd, lane: canon?.lane }) : undefined;
  // Lines typed from a QEMU file are kept (by commands) as their place in it, read back only when cited.
  const fileText = format === 'qemu' && src.rereadable ? new TraceFileText(name) : undefined;
  const model = new ControllerModel(file, shape, spec, engine, { registers: format === 'canonical' ? (canon?.registers ?? true) : format !== 'ftrace', fileText });
  // Counted in a Map of boxes (one lookup per event): a property per event kind, bumped for every event, is a
  // keyed store on a dictionary.
  const eventCounts = new Map<string, { n: number }>();
  let events = 0;
  let lines = 0;
  // Events the model does not consume were validated by the parser but not materialised.
  const feed = (r: TraceRecord): void => {
    events++;
    const out = canonical ? canonical.normalise(r as CanonRecord) : normaliseFtrace(r, spec);
    if (!out) return;
    if (Array.isArray(out)) for (const e of out) step(e);
    else step(out);
  };
  const step = (e: Ev): void => {
    const c = eventCounts.get(e.kind);
    if (c !== undefined) c.n++;
    else eventCounts.set(e.kind, { n: 1 });
    model.consume(e);
    authority?.consume(e);
  };
  let skippedUpstream = 0;
  const countLine = (): void => {
    events++;
  };
  const run = (b: LineBatch): void => {
    const ls = b.lines;
    const nos = b.lineNos;
    if (format === 'qemu') qemuEventsOf(b, parser as QemuParser, step, countLine);
    else recordsOf(b, parser, feed);
    const lastNo = b.lastLine ?? b.firstLine + ls.length - 1;
    const endsCut = b.unterminated && ls.length > 0 && (nos === undefined || nos[ls.length - 1] === lastNo);
    batchDone(b.skipped ?? 0, lastNo, endsCut ? () => ls[ls.length - 1]! : undefined);
  };
  // QEMU lines typed from their bytes are normalised straight from their values (normalise/qemu.ts).
  const runTyped = (t: TypedBatch): void => {
    typedEventsOf(t, parser as QemuParser, step, countLine);
    const n = t.lineNos.length;
    const endsCut = t.unterminated && n > 0 && t.lineNos[n - 1] === t.lastLine;
    batchDone(t.skipped, t.lastLine, endsCut ? () => new KeptLines(t).line(n - 1) : undefined);
  };
  /** cutLine: the text of the batch's last line, when the input stopped in the middle of it. */
  const batchDone = (skipped: number, lastNo: number, cutLine: (() => string) | undefined): void => {
    skippedUpstream += skipped;
    if (cutLine) {
      // The input stopped mid-line. If that fragment was not a whole event (it may have been skipped as an
      // unknown name or as noise), say so rather than let a cut-off trace pass quietly.
      const last = cutLine();
      const already = parser.diagnostics.some((d) => d.line === lastNo);
      if (!already && (parser.unknownEvents.size > 0 || /^(\d+@)?pci_nvm|: nvme_/.test(last))) {
        const whole = parser instanceof QemuParser && parser.isWholeEvent(last);
        if (!whole) parser.diagnostics.push({ line: lastNo, col: last.length + 1, message: 'the trace ends in the middle of this line (no newline at end of file): truncated?', raw: last });
      }
    }
    lines = lastNo;
    opts.onProgress?.(lines, findingsCount);
  };
  let stoppedEarly = false;
  try {
    if (threaded) {
      // Large QEMU trace: a second thread reads, types, and drops the events the model does not need.
      await it.return?.();
      for await (const b of threaded) runTyped(b);
    } else if (format === 'qemu' && src.rereadable && opts.byteParsing !== false) {
      // A QEMU trace file is read again from the start, typed from its bytes (the sniffed lines are dropped),
      // with blocking reads: checking is all this thread does until the file ends.
      await it.return?.();
      for await (const b of typedQemuBatches(name, { wanted: QEMU_MODEL_EVENTS, blocking: true, views: true })) runTyped(b);
    } else if (src.typedStream) {
      // Read once: typed from its bytes as they come (a finding is reported as soon as its lines have come).
      for await (const b of typedChunkBatches(src.typedStream(), file, { wanted: QEMU_MODEL_EVENTS, views: true })) runTyped(b);
    } else {
      for (const b of held) run(b);
      if (!done) {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          run(r.value);
        }
      }
    }
    authority?.finish();
  } catch (err) {
    if (!(err instanceof StopEarly)) throw err;
    stoppedEarly = true;
  } finally {
    fileText?.close();
  }
  const malformedRule = catalog.byId.get('trace-malformed-line');
  const findings: Finding[] = [...engine.findings];
  const proof = src.serial()?.finish();
  if (proof && proof.tables.length) findings.push(...proof.findings);
  for (const d of parser.diagnostics) {
    findings.push({
      rule: 'trace-malformed-line',
      severity: malformedRule?.meta.severity ?? 'error',
      message: d.message,
      file,
      line: d.line,
      col: d.col,
      raw: d.raw,
      related: [],
      binding: 'parse',
      section: malformedRule?.meta.section,
      source: 'model',
    });
  }
  // Rule ids are lower-case ASCII: code-unit order is the locale's, without ICU's start-up cost.
  findings.sort((a, b) => a.line - b.line || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
  events += parser.skipped + skippedUpstream;
  if (events === 0 && parser.diagnostics.length === 0) {
    throw new UserError(`${file}: no NVMe events found in ${lines} line(s) (read as ${format}); nothing was checked`);
  }
  if (engine.exercised.size === 0 && findings.length === 0) {
    throw new UserError(`${file}: nothing was checked: no rule applies to any of its ${events} ${format} event(s) (a trace needs register accesses, commands or completions)`);
  }
  const notes: string[] = [];
  if (parser.unknownEvents.size) notes.push(`unknown events (not checked): ${[...parser.unknownEvents].map(([k, v]) => `${k} x${v}`).join(', ')}`);
  if (parser.otherLines) notes.push(`${parser.otherLines} line(s) that are not ${format} events were skipped`);
  if (stoppedEarly) notes.push(`stopped after ${opts.maxFindings} finding(s) (--max-findings)`);
  if (format === 'ftrace') notes.push('ftrace shows commands only: register, doorbell and PRP rules are not checked on it');
  if (canon && !canon.registers) notes.push('the canonical trace has no register accesses (registers=no): register and doorbell rules are not checked on it');
  const exercised = [...engine.exercised, ...(proof && proof.tables.length ? proof.exercised : [])].sort();
  if (parser.diagnostics.length) exercised.push('trace-malformed-line');
  return {
    file,
    format,
    lines,
    events,
    malformed: parser.diagnostics.length,
    unknownEvents: Object.fromEntries(parser.unknownEvents),
    findings,
    exercised,
    notChecked: authority ? [] : authorityNotChecked(catalog.rules),
    coverage: { ...model.coverage, events: Object.fromEntries([...eventCounts].map(([k, c]) => [k, c.n])) },
    notes: proof && proof.tables.length ? [...notes, ...proof.notes] : notes,
    ...(proof && proof.tables.length ? { proofTables: proof.tables } : {}),
  };
}

/** A DMA evidence matrix (seed 004's schema): each row's claimed backend against what its evidence supports. */
function checkEvidence(file: string): FileResult {
  const r = classifyFile(file);
  return {
    file,
    format: 'evidence',
    lines: 0,
    events: r.rows.length,
    malformed: 0,
    unknownEvents: {},
    findings: r.findings,
    exercised: r.exercised,
    notChecked: [],
    coverage: { registers: {}, commands: {}, events: { 'evidence-row': r.rows.length } },
    notes: r.notes,
  };
}

/** Serial logs: every line goes to the proof-line checker; boots, verdict tables and findings come back. */
async function checkSerial(file: string, held: LineBatch[], rest: AsyncIterator<LineBatch> | undefined, opts: CheckOptions): Promise<FileResult> {
  const checker = new SerialProofChecker({ file });
  let lines = 0;
  const run = (b: LineBatch): void => {
    for (let i = 0; i < b.lines.length; i++) checker.line(b.lines[i]!, b.firstLine + i);
    lines = b.firstLine + b.lines.length - 1;
    opts.onProgress?.(lines, 0);
  };
  for (const b of held) run(b);
  if (rest) {
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      run(r.value);
    }
  }
  const res = checker.finish();
  if (res.tables.length === 0) {
    throw new UserError(`${file}: nothing was checked: no proof lines found in ${lines} line(s) of serial log (looked for ${[...checker.cat.byPrefix.keys()].map((p) => `'${p}'`).join(', ')})`);
  }
  for (const f of res.findings) opts.onFinding?.(f);
  return {
    file,
    format: 'serial',
    lines,
    events: res.tables.length,
    malformed: res.findings.filter((f) => f.rule === 'proof-line-syntax').length,
    unknownEvents: {},
    findings: res.findings,
    exercised: res.exercised,
    notChecked: checker.notCheckedRules(),
    coverage: { registers: {}, commands: {}, events: { 'proof-line': res.tables.length } },
    notes: res.notes,
    proofTables: res.tables,
  };
}
