import fs from 'node:fs';
import { createRequire } from 'node:module';
import { grammarPath } from './paths.js';
import type * as Ohm from 'ohm-js';

/**
 * ohm-js, loaded on first use. The hot paths never touch Ohm (grammars explain bad lines and compile specs,
 * whose results are cached), so a run that meets only good lines never pays for loading it.
 */
let lib: typeof Ohm | undefined;
export function ohmLib(): typeof Ohm {
  lib ??= createRequire(import.meta.url)('ohm-js') as typeof Ohm;
  return lib;
}

const fromFiles = new Map<string, Ohm.Grammar>();

/** A grammar of grammar/ by file name, read and built once per process, on first use. */
export function grammarFromFile(name: string): Ohm.Grammar {
  let g = fromFiles.get(name);
  if (!g) {
    g = ohmLib().grammar(fs.readFileSync(grammarPath(name), 'utf8'));
    fromFiles.set(name, g);
  }
  return g;
}
