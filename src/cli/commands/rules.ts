import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../../rules/catalog.js';
import { loadSpecFile } from '../../specs/load.js';
import { listCaseFiles } from '../../conformance/run.js';
import { UserError } from '../../util/errors.js';
import { PACKAGE_ROOT } from '../../util/paths.js';

interface CaseRef {
  file: string;
  verdict: 'conforming' | 'violating';
  name: string;
  lines: number[];
}

/** Conformance cases that exercise a rule: the violating ones name it in `expect`, conforming ones by `rule:`. */
function casesFor(id: string): CaseRef[] {
  const out: CaseRef[] = [];
  for (const cf of listCaseFiles()) {
    const spec = loadSpecFile<{ rule?: string; cases: { name: string; file: string; verdict: 'conforming' | 'violating'; expect: { rule: string; line: number }[] }[] }>(cf, 'conformance-cases').data;
    for (const c of spec.cases) {
      const lines = c.expect.filter((e) => e.rule === id).map((e) => e.line);
      if ((c.verdict === 'violating' && lines.length) || (c.verdict === 'conforming' && spec.rule === id)) {
        out.push({ file: path.join(path.dirname(cf), c.file), verdict: c.verdict, name: c.name, lines });
      }
    }
  }
  return out;
}

function excerpt(file: string, around: number[], width = 3): string {
  const ls = fs.readFileSync(file, 'utf8').split('\n');
  const center = around[0] ?? Math.min(ls.length, 1);
  const from = Math.max(1, center - width);
  const to = Math.min(ls.length, center + width);
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(`${around.includes(n) ? '>' : ' '} ${String(n).padStart(5)}  ${ls[n - 1] ?? ''}`);
  return out.join('\n');
}

export function registerRules(program: Command): void {
  program
    .command('rules')
    .description('list the rule catalog (specs/rules/*.yaml and --rules DIR)')
    .option('--rules <dir>', 'extra rule catalog directory (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--json', 'print as JSON')
    .action((o: { rules: string[]; json?: boolean }) => {
      const cat = loadCatalog(o.rules);
      if (o.json) {
        process.stdout.write(JSON.stringify(cat.rules.map((r) => r.meta), null, 2) + '\n');
        return;
      }
      const w = Math.max(...cat.rules.map((r) => r.meta.id.length));
      let family = '';
      for (const r of cat.rules) {
        if (r.meta.family !== family) {
          family = r.meta.family;
          process.stdout.write(`\n${family}\n`);
        }
        process.stdout.write(`  ${r.meta.id.padEnd(w)}  ${r.meta.severity.padEnd(7)}  ${r.meta.title}\n`);
      }
      process.stdout.write(`\n${cat.rules.length} rules\n`);
    });

  program
    .command('explain')
    .description("print a rule's explanation, spec section, fix, and a violating and a conforming example")
    .argument('<rule-id>')
    .option('--rules <dir>', 'extra rule catalog directory (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action((id: string, o: { rules: string[] }) => {
      const cat = loadCatalog(o.rules);
      const r = cat.byId.get(id);
      if (!r) {
        const near = cat.rules.map((x) => x.meta.id).filter((x) => x.includes(id) || id.includes(x.split('-').slice(1).join('-')));
        throw new UserError(`no rule '${id}'${near.length ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : ''}; see \`nvmeproof rules\``);
      }
      const m = r.meta;
      const out: string[] = [];
      out.push(`${m.id}  (${m.severity}, family ${m.family})`);
      out.push(m.title);
      out.push('');
      out.push(`Spec: ${m.section}`);
      out.push('');
      out.push(m.explanation.trim());
      if (m.fix) out.push('', `Fix: ${m.fix.trim()}`);
      if (r.spec.given) out.push('', `Checked at: ${r.spec.given}${r.spec.when ? ` when ${r.spec.when}` : ''}`);
      if (r.spec.device_events?.length) out.push(`Device events reported as this rule: ${r.spec.device_events.join(', ')}`);
      const cases = casesFor(id);
      const bad = cases.find((c) => c.verdict === 'violating');
      const good = cases.find((c) => c.verdict === 'conforming');
      if (bad) out.push('', `Violating (${path.relative(PACKAGE_ROOT, bad.file)}: ${bad.name}):`, excerpt(bad.file, bad.lines));
      if (good) out.push('', `Conforming (${path.relative(PACKAGE_ROOT, good.file)}: ${good.name}):`, excerpt(good.file, bad?.lines.length ? bad.lines : [1]));
      if (!bad && !good) out.push('', '(no conformance cases found for this rule)');
      process.stdout.write(out.join('\n') + '\n');
    });
}
