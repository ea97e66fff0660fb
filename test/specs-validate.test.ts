import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { cli, ROOT, tmpdir } from './helpers.js';
import { checkSpecText, validateSpecDir } from '../src/specs/load.js';

describe('specs validate', () => {
  it('every bundled spec file is valid', () => {
    const { files, problems } = validateSpecDir(path.join(ROOT, 'specs'));
    expect(problems).toEqual([]);
    expect(files).toBeGreaterThanOrEqual(8);
    const r = cli(['specs', 'validate']);
    expect(r.code).toBe(0);
  });

  it('locates schema errors at the offending YAML node (file:line:col), all of them', () => {
    const text = [
      '# yaml-language-server: $schema=../schema/shape.schema.json',
      'kind: shape',
      'id: broken',
      'title: A broken shape',
      'controller:',
      '  cap:',
      '    mqes: 0',
      '    cqr: 1',
      '    to: 15',
      '    dstrd: 0',
      '    css: 1',
      '    mpsmin: 0',
      '    mpsmax: 4',
      '    colour: blue',
      '  mdts: 7',
      '  max_queue_pairs: 64',
      '  namespaces:',
      '    - nsid: 1',
      '      lba_size: 100',
      '',
    ].join('\n');
    const { problems } = checkSpecText('broken.yaml', text);
    const at = problems.map((p) => `${p.line}:${p.col} ${p.message}`);
    expect(at).toContain("7:11 /controller/cap/mqes must be >= 1");
    expect(at).toContain("14:5 unknown key 'colour' at /controller/cap");
    expect(at).toContain('19:17 /controller/namespaces/0/lba_size must be >= 512');
  });

  it('reports YAML syntax errors, missing kind, unknown kind and a missing $schema line', () => {
    expect(checkSpecText('a.yaml', 'kind: shape\n  bad: [\n').problems[0]!.message).toMatch(/^YAML:/);
    expect(checkSpecText('b.yaml', '# yaml-language-server: $schema=x\nid: x\n').problems[0]!.message).toMatch(/missing required key 'kind'/);
    expect(checkSpecText('c.yaml', '# yaml-language-server: $schema=x\nkind: nonsense\n').problems[0]).toMatchObject({ line: 2, col: 7 });
    const noSchemaLine = checkSpecText('d.yaml', 'kind: rules\nfamily: x\nrules: []\n').problems;
    expect(noSchemaLine.some((p) => /yaml-language-server/.test(p.message))).toBe(true);
  });

  it('the CLI exits 2 with located messages for an invalid spec directory', () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, 'bad.yaml'), '# yaml-language-server: $schema=x\nkind: rules\nfamily: Bad Family\nrules: []\n');
    const r = cli(['specs', 'validate', dir]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/bad\.yaml:3:9: \/family must match pattern/);
    expect(r.stdout).toMatch(/bad\.yaml:4:8: \/rules must NOT have fewer than 1 items/);
  });
});
