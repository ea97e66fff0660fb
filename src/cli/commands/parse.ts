import type { Command } from 'commander';
import { Option } from 'commander';
import { isRegularFile, openLines, type LineBatch } from '../../read/lines.js';
import { detectFormat } from '../../check/detect.js';
import { QemuParser } from '../../parse/qemu.js';
import { recordsOf } from '../../parse/records-of.js';
import { toLineBatch, typedQemuBatches } from '../../read/qemu-batches.js';
import { FtraceParser } from '../../parse/ftrace.js';
import type { LineParser, TraceFormat } from '../../parse/record.js';
import { normaliseQemu } from '../../normalise/qemu.js';
import { normaliseFtrace } from '../../normalise/ftrace.js';
import { loadNvmeSpec } from '../../specs/nvme.js';
import { UserError } from '../../util/errors.js';
import { parseSerialLine, BootTracker } from '../../parse/serial.js';

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x));
}

export function registerParse(program: Command): void {
  program
    .command('parse')
    .description('print the typed, normalised events of traces as JSON Lines, then a summary on stderr')
    .argument('<trace...>', "trace files (gzip ok), or '-' for standard input")
    .addOption(new Option('--input-format <format>', 'trace format instead of auto-detection').choices(['qemu', 'ftrace', 'serial']))
    .option('--summary-only', 'print only the summary')
    .action(async (traces: string[], o: { inputFormat?: TraceFormat; summaryOnly?: boolean }) => {
      let bad = 0;
      for (const t of traces) {
        const src = openLines(t);
        // A named pipe or process substitution gives its lines once: a QEMU trace is then typed as it is read.
        const rereadable = isRegularFile(t);
        let parser: LineParser | undefined;
        const counts = new Map<string, number>();
        let lines = 0;
        const write = (s: string): void => void (o.summaryOnly || process.stdout.write(s));
        let buf = '';
        let serial: { boots: BootTracker; proof: number; malformed: number; boot: number } | undefined;
        const handle = (b: LineBatch): void => {
          if (!parser && !serial) {
            const fmt = o.inputFormat ?? detectFormat(b.lines);
            if (fmt === 'serial') serial = { boots: new BootTracker(), proof: 0, malformed: 0, boot: 1 };
            else if (fmt !== 'qemu' && fmt !== 'ftrace') throw new UserError(`${src.name}: no QEMU or ftrace NVMe events or serial proof lines found in its first lines`);
          }
          if (serial) {
            // Serial logs: proof lines (and boot boundaries, and would-be proof lines that do not parse).
            for (let i = 0; i < b.lines.length; i++) {
              const ln = b.firstLine + i;
              const sl = parseSerialLine(b.lines[i]!);
              const change = serial.boots.feed(sl, ln);
              if (change.started) {
                serial.boot = serial.boots.boot;
                write(json({ file: src.name, line: ln, kind: 'boot-start', boot: serial.boot, reason: change.reason }) + '\n');
              }
              if (sl.type === 'proof') {
                serial.proof++;
                const fields = Object.fromEntries(sl.fields.map((f) => [f.key, f.value]));
                write(json({ file: src.name, line: ln, kind: 'proof-line', boot: serial.boot, subsystem: sl.subsystem, phrase: sl.phrase, fields, raw: b.lines[i] }) + '\n');
              } else if (sl.type === 'malformed') {
                serial.malformed++;
                process.stderr.write(`${src.name}:${ln}:${sl.col}: ${sl.message}\n`);
              }
            }
            lines = b.firstLine + b.lines.length - 1;
            return;
          }
          if (!parser) {
            const fmt = o.inputFormat ?? detectFormat(b.lines);
            if (fmt !== 'qemu' && fmt !== 'ftrace') throw new UserError(`${src.name}: no QEMU or ftrace NVMe events found in its first lines`);
            parser = fmt === 'qemu' ? new QemuParser() : new FtraceParser();
            // The first batch of a QEMU trace file is read again, typed from its bytes: nothing to do yet.
            if (fmt === 'qemu' && rereadable && b.pre === undefined) return;
          }
          const spec = parser.format === 'ftrace' ? loadNvmeSpec() : undefined;
          const format = parser.format;
          recordsOf(b, parser, (r) => {
            counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
            if (o.summaryOnly) return;
            const n = format === 'qemu' ? normaliseQemu(r) : normaliseFtrace(r, spec!);
            const kinds = n === undefined ? [] : Array.isArray(n) ? n.map((e) => e.kind) : [n.kind];
            buf += json({ file: src.name, line: r.line, event: r.name, kind: kinds.length <= 1 ? (kinds[0] ?? null) : kinds, fields: r.fields, raw: r.raw }) + '\n';
            if (buf.length > 1 << 16) {
              write(buf);
              buf = '';
            }
          });
          lines = b.lastLine ?? b.firstLine + b.lines.length - 1;
        };
        const it = src.batches()[Symbol.asyncIterator]();
        const first = await it.next();
        if (!first.done) handle(first.value);
        if (parser instanceof QemuParser && rereadable) {
          // A QEMU trace file is read again from the start and typed from its bytes (read/qemu-batches.ts).
          await it.return?.();
          for await (const tb of typedQemuBatches(t, { blocking: true })) handle(toLineBatch(tb));
        } else if (!first.done) {
          for (let r = await it.next(); !r.done; r = await it.next()) handle(r.value);
        }
        write(buf);
        if (serial) {
          process.stderr.write(`${src.name}: ${lines} lines (serial), ${serial.proof} proof line(s) in ${serial.boots.boot} boot(s), ${serial.malformed} malformed\n`);
          bad += serial.malformed;
          if (serial.proof === 0 && serial.malformed === 0) throw new UserError(`${src.name}: no proof lines found`);
          continue;
        }
        const p = parser!;
        const events = [...counts.values()].reduce((a, b) => a + b, 0);
        process.stderr.write(`${src.name}: ${lines} lines, ${events} events (${p.format}), ${p.diagnostics.length} malformed, ${p.otherLines} other lines\n`);
        for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) process.stderr.write(`  ${String(v).padStart(8)}  ${k}\n`);
        for (const [k, v] of p.unknownEvents) process.stderr.write(`  note: unknown event ${k} x${v}\n`);
        for (const d of p.diagnostics) process.stderr.write(`${src.name}:${d.line}:${d.col}: ${d.message}\n`);
        bad += p.diagnostics.length;
        if (events === 0 && p.diagnostics.length === 0) throw new UserError(`${src.name}: no NVMe events found`);
      }
      if (bad) process.exitCode = 1;
    });
}
