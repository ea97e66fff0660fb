import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFORMANCE_DIR, listCaseFiles, runCases, type CaseResult } from '../src/conformance/run.js';
import { loadCatalog } from '../src/rules/catalog.js';

/*
 * RuleTester for traces: every conformance/**\/cases.yaml case must produce exactly the error and warning
 * findings (rule, line) it lists, and every wire rule (domain wire or input) needs at least one conforming
 * and one violating case.
 *
 * Cases of other families (proof lines, DMA evidence...) whose traces checkTrace cannot run yet are skipped by
 * name, with checkTrace's reason, until their checker joins checkTrace; a whole cases file is skipped when none
 * of its cases runs. Wire cases (conformance/wire) are never skipped: an error there is a failure.
 */

interface CasesDoc {
  rule?: string;
  cases: { name: string; file: string; verdict: 'conforming' | 'violating'; format?: string; expect: { rule: string; line: number }[] }[];
}

/**
 * Cases whose expectation is right but which the engine does not meet yet: `<cases dir>/<trace file>` (relative
 * to conformance/) -> the engine defect. They run as expected failures, so fixing the engine flips them to an
 * unexpected pass and the entry must then be removed.
 */
const KNOWN_ENGINE_BUGS: Record<string, string> = {};

const catalog = loadCatalog();
const brief = (err: string | undefined): string => (err ?? '').split(path.dirname(CONFORMANCE_DIR) + path.sep).join('');
const caseFiles = listCaseFiles();
const docs = caseFiles.map((file) => ({ file, rel: path.relative(CONFORMANCE_DIR, file), doc: parse(fs.readFileSync(file, 'utf8')) as CasesDoc }));

// Run every cases file once while collecting, so that unsupported inputs can be skipped with their reason.
const results = new Map<string, CaseResult[] | { loadError: string }>();
for (const d of docs) {
  try {
    results.set(d.file, await runCases(d.file, catalog));
  } catch (err) {
    results.set(d.file, { loadError: err instanceof Error ? [err.message, ...((err as { details?: { message: string }[] }).details ?? []).map((x) => x.message)].join('; ') : String(err) });
  }
}

describe('conformance cases', () => {
  for (const d of docs) {
    const got = results.get(d.file)!;
    const wire = d.rel.startsWith(`wire${path.sep}`);
    if (!Array.isArray(got)) {
      if (wire) it(`${d.rel} loads`, () => expect.fail(got.loadError));
      else it.skip(`${d.rel}: skipped, the cases file does not load (${brief(got.loadError)})`, () => {});
      continue;
    }
    const rs = got;
    if (!wire && rs.every((r) => r.error)) {
      it.skip(`${d.rel}: skipped, checkTrace does not run its traces yet (${brief(rs[0]!.error)})`, () => {});
      continue;
    }
    describe(d.rel, () => {
      for (const r of rs) {
        if (!wire && r.error) {
          it.skip(`${r.verdict}: ${r.name} (${path.basename(r.file)}): skipped, checkTrace does not run it (${brief(r.error)})`, () => {});
          continue;
        }
        const key = `${path.dirname(d.rel)}/${path.basename(r.file)}`;
        const bug = KNOWN_ENGINE_BUGS[key];
        const test = bug ? it.fails : it;
        test(`${r.verdict}: ${r.name} (${path.basename(r.file)})${bug ? ` [known engine bug: ${bug}]` : ''}`, () => {
          const msg = `${r.file}\n  expected: ${JSON.stringify(r.expected)}\n  actual:   ${JSON.stringify(r.actual)}`;
          expect(r.error, msg).toBeUndefined();
          expect(r.actual, msg).toEqual(r.expected);
          expect(r.expected.length === 0, `${msg}\n  a ${r.verdict} case must list ${r.verdict === 'conforming' ? 'no' : 'at least one'} finding`).toBe(r.verdict === 'conforming');
          expect(r.pass, msg).toBe(true);
        });
      }
    });
  }
});

describe('every wire rule has conforming and violating cases', () => {
  const wire = catalog.rules.filter((r) => r.domain === 'wire' || r.domain === 'input');
  it('the catalog has wire rules', () => expect(wire.length).toBeGreaterThan(0));
  for (const r of wire) {
    it(r.meta.id, () => {
      const own = docs.filter((d) => d.doc.rule === r.meta.id);
      const conforming = own.flatMap((d) => d.doc.cases.filter((c) => c.verdict === 'conforming'));
      const violating = docs.flatMap((d) => d.doc.cases.filter((c) => c.verdict === 'violating' && c.expect.some((e) => e.rule === r.meta.id)));
      expect(conforming.length, `${r.meta.id}: no conforming case in a cases file with rule: ${r.meta.id}`).toBeGreaterThan(0);
      expect(violating.length, `${r.meta.id}: no violating case expects a ${r.meta.id} finding`).toBeGreaterThan(0);
    });
  }
});

describe('conformance/wire layout', () => {
  const wireDir = path.join(CONFORMANCE_DIR, 'wire');
  const dirs = fs.existsSync(wireDir) ? fs.readdirSync(wireDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
  for (const id of dirs) {
    it(`wire/${id}: named after its rule, every trace file used by a case`, () => {
      const d = docs.find((x) => x.rel === path.join('wire', id, 'cases.yaml'));
      expect(d, `wire/${id} has no cases.yaml`).toBeDefined();
      expect(d!.doc.rule).toBe(id);
      expect(catalog.byId.has(id), `${id} is not a rule of the catalog`).toBe(true);
      const used = new Set(d!.doc.cases.map((c) => c.file));
      const files = fs.readdirSync(path.join(wireDir, id)).filter((f) => f !== 'cases.yaml');
      expect(files.filter((f) => !used.has(f)), 'trace files no case uses').toEqual([]);
      for (const f of used) expect(/^(valid|invalid)-/.test(f), `${f}: trace files are named valid-* or invalid-*`).toBe(true);
      for (const c of d!.doc.cases) expect(c.file.startsWith(c.verdict === 'conforming' ? 'valid-' : 'invalid-'), `${c.file} holds a ${c.verdict} case`).toBe(true);
    });
  }
});
