import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { openLines } from '../src/read/lines.js';
import { SerialProofChecker, type SerialProofResult } from '../src/proof/check.js';
import { ROOT } from './helpers.js';

/** Shared by the proof-, serial- and classify- tests: read a serial log the way the CLI does and check it. */

export async function checkSerialFile(file: string, opts: { fastPath?: boolean; shapeDir?: string } = {}): Promise<SerialProofResult> {
  const checker = new SerialProofChecker({ file, ...opts });
  for await (const batch of openLines(file).batches()) {
    batch.lines.forEach((l, i) => checker.line(l, batch.firstLine + i));
  }
  return checker.finish();
}

export function checkSerialText(text: string, file = '<text>'): SerialProofResult {
  const checker = new SerialProofChecker({ file });
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, i) => checker.line(l.replace(/\r$/, ''), i + 1));
  return checker.finish();
}

export interface Case {
  name: string;
  file: string;
  verdict: 'conforming' | 'violating';
  format?: string;
  expect: { rule: string; line: number; severity?: string }[];
}

export function loadCases(dir: string): { dir: string; cases: Case[] } {
  const abs = path.join(ROOT, dir);
  const data = parseYaml(fs.readFileSync(path.join(abs, 'cases.yaml'), 'utf8')) as { cases: Case[] };
  return { dir: abs, cases: data.cases };
}

/** `rule@line` keys, sorted, so multisets compare exactly. */
export function keys(items: { rule: string; line: number }[]): string[] {
  return items.map((f) => `${f.rule}@${f.line}`).sort();
}

export const SERIAL_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'serial');
export const CLEAN_LOG = path.join(ROOT, 'examples', 'serial', 'qemu-cloud-shapes.serial.txt');
