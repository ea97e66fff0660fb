import type { Command } from 'commander';
import { Option } from 'commander';
import fs from 'node:fs';
import { type CheckOptions } from '../../check/run.js';
import { checkMany } from '../../check/pool.js';
import { loadCatalog, type Catalog } from '../../rules/catalog.js';
import type { CheckResult, FileResult, Finding } from '../../findings/finding.js';
import { UserError } from '../../util/errors.js';
import type { TraceFormat } from '../../parse/record.js';
import { TOOL } from '../../util/tool.js';
import {
  REPORT_FORMATS,
  renderReport,
  exitCodeFor,
  shouldColor,
  githubBlobBase,
  renderFindingLive,
  readBaseline,
  applyBaseline,
  writeBaseline,
  type ReportFormat,
} from '../../report/index.js';
import { Progress } from '../progress.js';
import { loadNamespaceFile } from '../../disk/descriptor.js';

export interface CheckCliOptions {
  format: ReportFormat[];
  output: string[];
  inputFormat?: TraceFormat;
  shape?: string;
  namespace?: string;
  rules: string[];
  failOn: 'error' | 'warning' | 'never';
  maxFindings?: number;
  baseline?: string;
  writeBaseline?: string;
  live?: boolean;
}

export function buildResult(files: FileResult[], catalog: Catalog): CheckResult {
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

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/**
 * Pairs each --output with the --format right before it (`--format github --format sarif --output x.sarif`
 * sends SARIF to the file and annotations to stdout). Commander keeps the two lists apart, so read the order
 * from the raw arguments.
 */
export function pairFormats(argv: string[]): { format: ReportFormat; output?: string }[] {
  const pairs: { format: ReportFormat; output?: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const m = /^(--format|-f|--output|-o)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    const value = m[2] ?? argv[++i];
    if (value === undefined) continue;
    if (m[1] === '--format' || m[1] === '-f') pairs.push({ format: value as ReportFormat });
    else {
      const last = pairs[pairs.length - 1];
      if (!last) pairs.push({ format: 'text', output: value });
      else if (last.output !== undefined) throw new UserError(`--output ${value}: the --format before it already has an --output (${last.output})`);
      else last.output = value;
    }
  }
  return pairs.length ? pairs : [{ format: 'text' }];
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check NVMe traces (QEMU pci_nvme_* logs, Linux ftrace, serial logs) against the rule catalog')
    .argument('<trace...>', "trace files (gzip ok), or '-' for standard input")
    .addOption(new Option('-f, --format <format>', `output format, repeatable (${REPORT_FORMATS.join(', ')}); default text`).choices([...REPORT_FORMATS]).default([]).argParser(collect))
    .option('-o, --output <file>', 'write the --format just before it to this file instead of stdout (repeatable)', collect, [] as string[])
    .addOption(new Option('--input-format <format>', 'trace format instead of auto-detection').choices(['qemu', 'ftrace', 'serial', 'canonical', 'evidence']))
    .option('--shape <id|file>', 'controller shape supplying what the trace does not show (default qemu-nvme)')
    .option('--namespace <file>', 'namespace geometry the trace does not print: a YAML of kind disk-namespaces (nsid, lba_size, blocks, read_only, unmap) or disk (see nvmeproof disk validate)')
    .option('--rules <dir>', 'extra rule catalog directory (repeatable)', collect, [] as string[])
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding at or above this severity remains').choices(['error', 'warning', 'never']).default('error'))
    .option('--max-findings <n>', 'stop reading after N findings', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UserError(`--max-findings takes a positive whole number, not '${v}'`);
      return n;
    })
    .option('--baseline <file>', 'report only findings not recorded in this baseline')
    .option('--write-baseline <file>', 'record the current findings as the accepted baseline')
    .option('--live', 'print text findings as soon as their evidence is complete (default when reading standard input)')
    .action(async (traces: string[], o: CheckCliOptions, cmd: Command) => {
      const catalog = loadCatalog(o.rules);
      const pairs = pairFormats(cmd.args.length ? process.argv.slice(2) : []);
      const formats = pairs.map((p) => p.format);
      o.output = pairs.map((p) => p.output as string);
      // Machine formats go to stdout alone; two of them cannot share it.
      const toStdout = formats.filter((_f, i) => !o.output[i]);
      if (toStdout.length > 1) throw new UserError(`formats ${toStdout.join(' and ')} would both go to stdout: give each but one an --output`);
      const textLive = toStdout[0] === 'text' && (o.live || traces.includes('-')) && !o.baseline;
      const color = shouldColor(process.stdout);
      // Validated before any trace is read: a bad description is exit 2 with its problems located.
      const namespaces = o.namespace ? loadNamespaceFile(o.namespace) : undefined;
      const progress = new Progress(process.stderr);
      const opts: CheckOptions & { shape?: string } = {
        format: o.inputFormat,
        shape: o.shape,
        namespace: namespaces,
        catalog,
        rulesDirs: o.rules,
        maxFindings: o.maxFindings,
        onFinding: textLive ? (f: Finding) => process.stdout.write(renderFindingLive(f, { color })) : undefined,
        onProgress: (lines, findings) => progress.update(lines, findings),
      };
      let results: FileResult[];
      const failed: UserError[] = [];
      try {
        results = await checkMany(traces, opts, undefined, failed);
      } finally {
        progress.done();
      }
      let result = buildResult(results, catalog);
      if (o.writeBaseline) writeBaseline(o.writeBaseline, result);
      if (o.baseline) result = applyBaseline(result, readBaseline(o.baseline), { baselineFile: o.baseline });
      formats.forEach((fmt, i) => {
        const text = renderReport(fmt, result, {
          cwd: process.cwd(),
          failOn: o.failOn,
          color: fmt === 'text' && !o.output[i] ? color : false,
          linkBase: githubBlobBase(),
          findingsStreamed: fmt === 'text' && !o.output[i] && textLive,
        });
        const out = o.output[i];
        if (out) fs.writeFileSync(out, text);
        else process.stdout.write(text);
      });
      process.exitCode = exitCodeFor(result, o.failOn);
      // Files that could not be checked are reported after the others' results, and make the exit code 2.
      for (const e of failed) {
        process.stderr.write(`nvmeproof: ${e.message}\n`);
        for (const d of e.details) process.stderr.write(`${d.file}:${d.line}:${d.col}: ${d.message}\n`);
      }
      if (failed.length) process.exitCode = 2;
    });
}
