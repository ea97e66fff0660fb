#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { UserError, formatLocated } from '../util/errors.js';
import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from '../util/paths.js';
import path from 'node:path';

const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('nvmeproof')
    .description('Spec-driven conformance checker for NVMe traces: QEMU pci_nvme_* logs, Linux ftrace, serial proof lines, canonical DMA-ledger traces.')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Prints a user error the way every command does: the message, then each located detail. */
export function reportUserError(err: UserError): void {
  process.stderr.write(`nvmeproof: ${err.message}\n`);
  for (const d of err.details) process.stderr.write(`${formatLocated(d)}\n`);
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message; --help and --version exit 0.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof UserError) {
      reportUserError(err);
      process.exitCode = 2;
      return;
    }
    const e = err as Error;
    process.stderr.write(`nvmeproof: internal error: ${e?.message ?? String(err)}\n`);
    if (process.env.NVMEPROOF_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    else process.stderr.write('nvmeproof: set NVMEPROOF_DEBUG=1 for details, and please report it\n');
    process.exitCode = 2;
  }
}

// EPIPE when piped into `head` is a normal end, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

await main();
