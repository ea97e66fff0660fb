import { createRequire } from 'node:module';
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
