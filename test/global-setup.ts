import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * CLI tests run the built CLI, so build once before the suite (the same tsc that `prepare` runs), then the
 * WebAssembly typer when anything it is made from is newer than its build: its source, the template programs'
 * generator and what that reads (the QEMU event specs, the host's program layout). Every QEMU test loads
 * dist/wasm/typer.wasm.
 */
export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'inherit' });
  const wasm = path.join(root, 'dist', 'wasm', 'typer.wasm');
  const manifest = path.join(root, 'dist', 'wasm', 'typer-templates.json');
  const built = fs.existsSync(wasm) && fs.existsSync(manifest) ? Math.min(fs.statSync(wasm).mtimeMs, fs.statSync(manifest).mtimeMs) : 0;
  const inputs = [
    ...fs.readdirSync(path.join(root, 'src', 'wasm')).filter((f) => !f.endsWith('.generated.ts')).map((f) => path.join('src', 'wasm', f)),
    'scripts/gen-typer-templates.mjs',
    'specs/trace/qemu-events.yaml',
    'src/parse/qemu-wasm.ts',
    'src/parse/template.ts',
  ];
  if (inputs.some((f) => fs.statSync(path.join(root, f)).mtimeMs > built)) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
}
