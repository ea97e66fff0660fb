import type { Command } from 'commander';
import { registerSpecs } from './specs.js';

/** Each feature registers its own subcommands; add one line per module. */
export function registerCommands(program: Command): void {
  registerSpecs(program);
}
