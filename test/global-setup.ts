import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * CLI tests run the built CLI, so build once before the suite (the same tsc that `prepare` runs), and the
 * WebAssembly typer when its source is newer than its build (every QEMU test loads dist/wasm/typer.wasm).
 */
export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const wasm = path.join(root, 'dist', 'wasm', 'typer.wasm');
  const built = fs.existsSync(wasm) ? fs.statSync(wasm).mtimeMs : 0;
  const sources = fs.readdirSync(path.join(root, 'src', 'wasm')).map((f) => fs.statSync(path.join(root, 'src', 'wasm', f)).mtimeMs);
  if (sources.some((m) => m > built)) execSync('npm run -s build:wasm', { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'inherit' });
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
}
