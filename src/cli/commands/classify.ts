import type { Command } from 'commander';
import { Option } from 'commander';
import { classifyFile, loadClassifier, type ClassifyResult } from '../../classify/classify.js';
import { renderJson, renderMarkdown, renderText } from '../../classify/render.js';

/**
 * `nvmeproof classify <evidence.yaml|probe.txt>...`: derives the DMA backend of each evidence row (or of a raw
 * probe capture) with the fail-closed rules of specs/dma/classification.yaml, shows the chain of rules that
 * decided it, and rejects (exit 1) a row whose claimed backend is stronger than its evidence.
 */

export function classifyReport(files: string[], format = 'text'): { text: string; exitCode: number; results: ClassifyResult[] } {
  const c = loadClassifier();
  const results = files.map((f) => classifyFile(f, c));
  const text = format === 'json' ? renderJson(results) : format === 'markdown' ? renderMarkdown(results) : renderText(results);
  const exitCode = results.some((r) => r.findings.some((f) => f.severity === 'error')) ? 1 : 0;
  return { text, exitCode, results };
}

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('derive the DMA backend (direct remapping / labeled bounce-buffer / unsupported) of evidence-matrix rows or raw probe captures, with the chain of rules that decided it; exit 1 when a row claims more than its evidence')
    .argument('<file...>', 'evidence matrix YAML (kind: evidence) or raw probe capture (`$ <command>` sections)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'markdown', 'json']).default('text'))
    .action((files: string[], o: { format: string }) => {
      const r = classifyReport(files, o.format);
      process.stdout.write(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
      process.exitCode = r.exitCode;
    });
}
