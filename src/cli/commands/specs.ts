import type { Command } from 'commander';
import { validateSpecDir } from '../../specs/load.js';
import { formatLocated } from '../../util/errors.js';
import { SPECS_DIR } from '../../util/paths.js';

export function registerSpecs(program: Command): void {
  const specs = program.command('specs').description('work with the YAML specifications');
  specs
    .command('validate')
    .argument('[dir]', 'a spec directory or file', SPECS_DIR)
    .description('validate every spec file against the JSON Schema of its kind; exit 2 with file:line:col messages when invalid')
    .action((dir: string) => {
      const { files, problems } = validateSpecDir(dir);
      for (const p of problems) process.stdout.write(`${formatLocated(p)}\n`);
      if (problems.length) {
        process.stderr.write(`${problems.length} problem(s) in ${files} spec file(s)\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`${files} spec file(s) valid\n`);
      }
    });
}
