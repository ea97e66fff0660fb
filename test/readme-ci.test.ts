import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { EXAMPLES, ROOT, tmpdir } from './helpers.js';
import { sarifValidator, SCHEMAS, validateXml, xmllint } from './fixtures/report/tools.js';

/** The README's CI step is the command the tests run: extract it and run it on a real trace. */
describe("README's GitHub Actions step", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const step = /- name: Check the trace\n\s+run: \|\n\s+(npx nvmeproof check .+)\n/.exec(readme);

  it('is present', () => {
    expect(step).not.toBeNull();
  });

  const dir = tmpdir();
  fs.copyFileSync(path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log'), path.join(dir, 'trace.log'));
  const summary = path.join(dir, 'summary.md');
  // `npx nvmeproof` in the repo is the built CLI; run the same arguments through it in a shell, as Actions does.
  const command = step![1]!.replace(/^npx nvmeproof /, `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'dist', 'cli', 'main.js'))} `);
  const r = spawnSync('bash', ['-c', command], { cwd: dir, encoding: 'utf8', env: { ...process.env, GITHUB_STEP_SUMMARY: summary, NO_COLOR: '1' } });

  it('fails the job on the errors of the trace and annotates them', () => {
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::error file=trace.log,line='))).toHaveLength(4);
  });

  it('writes SARIF that validates, JUnit that validates, and the step summary', () => {
    const validate = sarifValidator();
    expect(validate(JSON.parse(fs.readFileSync(path.join(dir, 'nvmeproof.sarif'), 'utf8'))), JSON.stringify(validate.errors)).toBe(true);
    if (!xmllint.skip) expect(validateXml(path.join(SCHEMAS, 'junit-10.xsd'), path.join(dir, 'junit.xml')).ok).toBe(true);
    expect(fs.readFileSync(summary, 'utf8')).toMatch(/cmd-opcode-supported/);
  });
});

describe("README's sample run", () => {
  it('is what `nvmeproof check` prints today', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = /```text\n\$ npx nvmeproof check (\S+)\n([\s\S]*?)```/.exec(readme)!;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'check', block[1]!], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const [shown, tail] = block[2]!.split('...\n');
    expect(r.stdout.startsWith(shown!)).toBe(true);
    expect(r.stdout).toContain(tail!.trim());
  });
});
