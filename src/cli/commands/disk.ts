import type { Command } from 'commander';
import { Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { listSpecFiles } from '../../specs/load.js';
import { loadDiskContract } from '../../disk/contract.js';
import { validateDiskFile, type DiskValidation } from '../../disk/descriptor.js';
import { UserError } from '../../util/errors.js';

interface ValidateOptions {
  format: 'text' | 'json';
  failOn: 'error' | 'warning' | 'never';
}

function expand(inputs: string[]): string[] {
  const out: string[] = [];
  for (const p of inputs) {
    if (!fs.existsSync(p)) throw new UserError(`${p}: no such file or directory`);
    if (fs.statSync(p).isDirectory()) {
      const files = listSpecFiles(p);
      if (files.length === 0) throw new UserError(`${p}: no .yaml files in this directory`);
      out.push(...files);
    } else out.push(p);
  }
  return out;
}

const hex3 = (n: number): string => '0x' + n.toString(16).padStart(3, '0');

export function registerDisk(program: Command): void {
  const disk = program.command('disk').description('the disk backend contract (specs/disk/contract.yaml): check disk descriptions, show the error-to-status map');
  disk
    .command('validate')
    .argument('<file...>', 'disk descriptions (kind: disk) or namespace lists (kind: disk-namespaces), or directories of them')
    .description('check disk descriptions against the disk contract; every violation as file:line:col; exit 1 on violations at or above --fail-on, 2 when a file is not a description')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a violation at or above this severity remains').choices(['error', 'warning', 'never']).default('error'))
    .action((inputs: string[], o: ValidateOptions) => {
      const contract = loadDiskContract();
      const results: DiskValidation[] = expand(inputs).map((f) => validateDiskFile(f, contract));
      const all = results.flatMap((r) => r.problems);
      const errors = all.filter((p) => p.severity === 'error').length;
      const warnings = all.length - errors;
      if (o.format === 'json') {
        process.stdout.write(
          JSON.stringify(
            {
              contract: path.relative(process.cwd(), contract.file),
              files: results.map((r) => ({ file: r.file, kind: r.kind ?? null, wellFormed: r.wellFormed, checks: r.evaluated, namespaces: r.namespaces, problems: r.problems })),
              summary: { files: results.length, errors, warnings },
            },
            null,
            2,
          ) + '\n',
        );
      } else {
        for (const r of results) {
          for (const p of r.problems) process.stdout.write(`${p.file}:${p.line}:${p.col}: ${p.severity} ${p.check}: ${p.message}${p.section ? ` [${p.section}]` : ''}\n`);
          if (r.problems.length === 0) process.stderr.write(`${r.file}: conforms to the disk contract (${r.evaluated} checks)\n`);
        }
        process.stderr.write(`${errors} error(s), ${warnings} warning(s) in ${results.length} file(s)\n`);
      }
      const malformed = results.some((r) => !r.wellFormed);
      const failing = o.failOn === 'never' ? false : o.failOn === 'warning' ? all.length > 0 : errors > 0;
      process.exitCode = malformed ? 2 : failing ? 1 : 0;
    });
  disk
    .command('contract')
    .description('print the disk contract: each backend error, its class and the NVMe status a frontend must report for it')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => {
      const c = loadDiskContract();
      if (o.json) {
        process.stdout.write(JSON.stringify(c.spec, null, 2) + '\n');
        return;
      }
      process.stdout.write(`${c.spec.title}\n(${path.relative(process.cwd(), c.file)})\n\n`);
      const w = Math.max(...c.spec.errors.map((e) => e.seed.length));
      process.stdout.write(`${'backend error'.padEnd(w)}  ${'class'.padEnd(20)}  NVMe status (SCT/SC)\n`);
      for (const e of c.spec.errors) {
        const st = [e.status, ...(e.also ?? [])].map((s) => `${s.name} ${hex3((s.sct << 8) | s.sc)}${s.by ? ` (also: ${s.by})` : ''}`).join('; ');
        process.stdout.write(`${e.seed.padEnd(w)}  ${e.class.padEnd(20)}  ${st}\n`);
      }
      process.stdout.write('\nunmap behaviours:\n');
      for (const u of c.spec.unmap_behaviours) process.stdout.write(`  ${u.id.padEnd(12)} read after deallocate: ${u.read_after_deallocate.padEnd(9)} ${u.nvme}\n`);
    });
}
