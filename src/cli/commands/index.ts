import type { Command } from 'commander';
import { registerSpecs } from './specs.js';
import { registerCheck } from './check.js';
import { registerParse } from './parse.js';
import { registerRules } from './rules.js';
import { registerConformance } from './conformance.js';
import { registerProof } from './proof.js';
import { registerClassify } from './classify.js';
import { registerDisk } from './disk.js';
import { registerConvert } from './convert.js';

/** Each feature registers its own subcommands; add one line per module. */
export function registerCommands(program: Command): void {
  registerSpecs(program);
  registerParse(program);
  registerCheck(program);
  registerRules(program);
  registerConformance(program);
  registerProof(program);
  registerClassify(program);
  registerDisk(program);
  registerConvert(program);
}
