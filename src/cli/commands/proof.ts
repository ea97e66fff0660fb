import fs from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { SerialProofChecker, isErrorVerdict, type SerialProofResult } from '../../proof/check.js';
import { loadProofCatalog } from '../../proof/catalog.js';
import { renderTablesMarkdown, renderTablesText } from '../../proof/render.js';
import { UserError } from '../../util/errors.js';

/**
 * `nvmeproof proof-line '<line>'` (or `-` for standard input): the reviewer's table for pasted proof lines.
 * One line is checked on its own (same-boot rules are reported as not checked); several lines from standard
 * input are checked together as one boot, so a classification and its backend selection can be pasted at once.
 */

export interface ProofLineReport {
  text: string;
  exitCode: number;
  result: SerialProofResult;
}

export function proofLineReport(input: string, opts: { format?: string; shapeDir?: string } = {}): ProofLineReport {
  const lines = input.split('\n').map((l) => l.replace(/\r+$/, ''));
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (!lines.length || lines.every((l) => l.trim() === '')) throw new UserError('no proof line given (pass it quoted, or `-` to read standard input)');
  const cat = loadProofCatalog({ shapeDir: opts.shapeDir });
  const prefixes = [...cat.byPrefix.keys()];
  const candidates = lines.filter((l) => prefixes.some((p) => l.includes(p)));
  const checker = new SerialProofChecker({ file: '<proof-line>', shapeDir: opts.shapeDir, isolated: candidates.length <= 1 });
  lines.forEach((l, i) => checker.line(l, i + 1));
  const result = checker.finish();
  if (!result.tables.length) {
    const shown = lines.find((l) => l.trim() !== '')!.trim();
    throw new UserError(
      `not a proof line: expected \`<subsystem>: <phrase> key=value ...\` starting with ${prefixes.map((p) => `\`${p}\``).join(', ')}; got ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)}`,
    );
  }
  const exitCode = result.tables.some((t) => t.rows.some((r) => isErrorVerdict(r.verdict))) || result.findings.some((f) => f.severity === 'error') ? 1 : 0;
  const format = opts.format ?? 'text';
  let text: string;
  if (format === 'json') {
    text = `${JSON.stringify({ tables: result.tables, findings: result.findings, exercised: result.exercised, notes: result.notes }, null, 2)}\n`;
  } else if (format === 'markdown') {
    text = renderTablesMarkdown(result.tables) + (result.notes.length ? `\n${result.notes.map((n) => `> ${n}`).join('\n')}\n` : '');
  } else {
    const multi = result.tables.length > 1;
    text = renderTablesText(result.tables, { showLine: multi });
    for (const n of result.notes) text += `note: ${n}\n`;
    text += exitCode ? 'verdict: REJECTED (error verdicts above)\n' : 'verdict: conforming\n';
  }
  return { text, exitCode, result };
}

export function registerProof(program: Command): void {
  program
    .command('proof-line')
    .description("a reviewer's table for a proof line: every key, its value, ok / missing / wrong / over-claims, the reason and its source (exit 1 on any error verdict)")
    .argument('<line>', "the proof line (quote it), or '-' to read lines from standard input")
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'markdown', 'json']).default('text'))
    .option('--shape-dir <dir>', 'directory of shape specs (default specs/shapes)')
    .action((line: string, o: { format: string; shapeDir?: string }) => {
      let input = line;
      if (line === '-') {
        try {
          input = fs.readFileSync(0, 'utf8');
        } catch (err) {
          throw new UserError(`cannot read standard input: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
      }
      const r = proofLineReport(input, { format: o.format, shapeDir: o.shapeDir });
      process.stdout.write(r.text);
      process.exitCode = r.exitCode;
    });
}
