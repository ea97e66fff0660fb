import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const EXAMPLES = path.join(ROOT, 'examples');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

export function readLines(file: string): string[] {
  const ls = fs.readFileSync(file, 'utf8').split('\n');
  if (ls[ls.length - 1] === '') ls.pop();
  return ls;
}

/** Runs the built CLI (npm ci builds it on prepare; vitest's globalSetup rebuilds it). */
export function cli(args: string[], input?: string | Buffer, timeout = 120_000): { code: number; stdout: string; stderr: string } {
  // A run that hangs (waiting on a pipe, say) is killed and fails its test, rather than the whole suite.
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 28, timeout });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tmpdir(): string {
  return fs.mkdtempSync(path.join(ROOT, 'tmp', 'test-'));
}
