import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root (holds specs/, grammar/, examples/), whether run from dist/ or through vitest from src/. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SPECS_DIR = path.join(PACKAGE_ROOT, 'specs');
export const GRAMMAR_DIR = path.join(PACKAGE_ROOT, 'grammar');

export function specPath(...parts: string[]): string {
  return path.join(SPECS_DIR, ...parts);
}
export function grammarPath(name: string): string {
  return path.join(GRAMMAR_DIR, name);
}

/**
 * The compiled file of a worker thread's module (e.g. 'read/pipeline-worker.js'). Workers always run the
 * built JavaScript in dist/, also when the caller runs from TypeScript sources (vitest).
 */
export function workerFile(relative: string): string {
  return path.join(PACKAGE_ROOT, 'dist', relative);
}
