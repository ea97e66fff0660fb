import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../../rules/catalog.js';
import { buildConformanceReport, renderConformanceMarkdown, writeConformanceReport, REPORT_MD } from '../../conformance/report.js';

export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .description('run every case in conformance/ and compare with reports/conformance.md (--update rewrites it)')
    .option('--update', 'write reports/conformance.md and reports/conformance.json')
    .action(async (o: { update?: boolean }) => {
      const report = await buildConformanceReport(loadCatalog());
      const t = report.totals;
      for (const rule of report.rules) for (const c of rule.cases) if (!c.pass) process.stdout.write(`FAIL  ${rule.id}  ${c.file}  ${c.name}\n      expected ${c.expected.join(' ') || '(none)'}\n      actual   ${c.error ?? (c.actual.join(' ') || '(none)')}\n`);
      process.stdout.write(`${t.cases} cases (${t.passed} passing, ${t.failed} failing); ${t.rulesCovered}/${t.rules} rules have a conforming and a violating case\n`);
      if (o.update) {
        writeConformanceReport(report);
        process.stdout.write(`wrote ${path.relative(process.cwd(), REPORT_MD)} and conformance.json\n`);
      } else if (!fs.existsSync(REPORT_MD) || fs.readFileSync(REPORT_MD, 'utf8') !== renderConformanceMarkdown(report)) {
        process.stdout.write(`${path.relative(process.cwd(), REPORT_MD)} is stale: run \`nvmeproof conformance --update\`\n`);
        process.exitCode = 1;
      }
      if (t.failed) process.exitCode = 1;
    });
}
