import fs from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { convertToCanonical } from '../../convert/canonical.js';
import type { TraceFormat } from '../../parse/record.js';
import { UserError } from '../../util/errors.js';

/**
 * `nvmeproof convert --to canonical [--jsonl] <trace>`: a QEMU or ftrace trace (or a canonical one, to switch
 * between text and JSON Lines) as the nvmeproof canonical trace (docs/canonical-trace.md).
 */
export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a QEMU or ftrace trace to the nvmeproof canonical trace (text, or JSON Lines with --jsonl)')
    .argument('<trace>', "trace file (gzip ok), or '-' for standard input")
    .addOption(new Option('--to <format>', 'output format').choices(['canonical']).default('canonical'))
    .option('--jsonl', 'write JSON Lines instead of text')
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .option('--no-src', 'do not write src= (the source line numbers of each event)')
    .addOption(new Option('--input-format <format>', 'trace format instead of auto-detection').choices(['qemu', 'ftrace', 'canonical']))
    .action(async (trace: string, o: { to: string; jsonl?: boolean; output?: string; src: boolean; inputFormat?: TraceFormat }) => {
      let fd: number | undefined;
      try {
        fd = o.output ? fs.openSync(o.output, 'w') : undefined;
      } catch (err) {
        throw new UserError(`${o.output}: cannot write: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      let buf = '';
      const flush = (): void => {
        if (!buf) return;
        if (fd !== undefined) fs.writeSync(fd, buf);
        else process.stdout.write(buf);
        buf = '';
      };
      const r = await convertToCanonical(trace, (line) => {
        buf += line + '\n';
        if (buf.length > 1 << 16) flush();
      }, { jsonl: o.jsonl, src: o.src, format: o.inputFormat });
      flush();
      if (fd !== undefined) fs.closeSync(fd);
      const name = trace === '-' ? '<stdin>' : trace;
      process.stderr.write(`${name}: ${r.lines} lines, ${r.events} ${r.format} events -> ${r.written} canonical ${o.jsonl ? 'JSON Lines' : 'lines'}${r.dropped ? ` (${r.dropped} event(s) without a canonical form left out)` : ''}\n`);
      for (const d of r.diagnostics) process.stderr.write(`${name}:${d.line}:${d.col}: ${d.message}\n`);
      if (r.diagnostics.length) process.exitCode = 1;
    });
}
