import type { Command } from 'commander';
import { Option } from 'commander';
import { checkTrace, type CheckOptions } from '../../check/run.js';
import { loadCatalog } from '../../rules/catalog.js';
import type { CheckResult, FileResult, Finding, Severity } from '../../findings/finding.js';
import { SEVERITY_RANK } from '../../findings/finding.js';
import { UserError } from '../../util/errors.js';
import { renderText } from '../render-text.js';
import type { TraceFormat } from '../../parse/record.js';
import { TOOL } from '../../util/tool.js';
import fs from 'node:fs';

export interface CheckCliOptions {
  format: string[];
  output: string[];
  inputFormat?: TraceFormat;
  shape?: string;
  rules?: string[];
  failOn: 'error' | 'warning' | 'never';
  maxFindings?: number;
}

export function buildResult(files: FileResult[], catalog: ReturnType<typeof loadCatalog>): CheckResult {
  const all = files.flatMap((f) => f.findings);
  return {
    tool: TOOL,
    files,
    rules: catalog.rules.map((r) => r.meta),
    summary: {
      files: files.length,
      errors: all.filter((f) => f.severity === 'error').length,
      warnings: all.filter((f) => f.severity === 'warning').length,
      infos: all.filter((f) => f.severity === 'info').length,
      lines: files.reduce((n, f) => n + f.lines, 0),
    },
  };
}

export function exitCodeFor(findings: Finding[], failOn: 'error' | 'warning' | 'never'): number {
  if (failOn === 'never') return 0;
  const limit = SEVERITY_RANK[failOn as Severity];
  return findings.some((f) => SEVERITY_RANK[f.severity] >= limit) ? 1 : 0;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check NVMe traces (QEMU pci_nvme_* logs, Linux ftrace, serial logs) against the rule catalog')
    .argument('<trace...>', "trace files (gzip ok), or '-' for standard input")
    .addOption(new Option('-f, --format <format>', 'output format (repeatable)').choices(['text', 'json']).default([] as string[]).argParser((v: string, prev: string[]) => [...prev, v]))
    .option('-o, --output <file>', 'write the matching --format to a file instead of stdout (repeatable, in order)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(new Option('--input-format <format>', 'trace format instead of auto-detection').choices(['qemu', 'ftrace', 'serial', 'canonical']))
    .option('--shape <id|file>', 'controller shape supplying what the trace does not show (default qemu-nvme)')
    .option('--rules <dir>', 'extra rule catalog directory (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding at or above this severity exists').choices(['error', 'warning', 'never']).default('error'))
    .option('--max-findings <n>', 'stop after N findings', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UserError(`--max-findings takes a positive whole number, not '${v}'`);
      return n;
    })
    .action(async (traces: string[], o: CheckCliOptions) => {
      const catalog = loadCatalog(o.rules ?? []);
      const formats = o.format.length ? o.format : ['text'];
      const results: FileResult[] = [];
      const opts: CheckOptions = { format: o.inputFormat, shape: o.shape, catalog, maxFindings: o.maxFindings };
      for (const t of traces) results.push(await checkTrace(t, opts));
      const result = buildResult(results, catalog);
      formats.forEach((fmt, i) => {
        const text = fmt === 'json' ? JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v), 2) + '\n' : renderText(result, { color: false });
        const out = o.output[i];
        if (out) fs.writeFileSync(out, text);
        else process.stdout.write(text);
      });
      process.exitCode = exitCodeFor(results.flatMap((r) => r.findings), o.failOn);
    });
}
