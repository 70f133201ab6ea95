/**
 * vitest global set-up: the tests run the programs in dist/, so dist/ is
 * built again when any source is newer than it. `npm test` builds first
 * anyway; this keeps a targeted `npx vitest run test/x.test.ts` from
 * testing a stale build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The newest modification time below `path`, unit tests (not built) aside. */
function newestBelow(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return path.endsWith('.test.ts') ? 0 : st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestBelow(join(path, name))));
}

/** The build outputs every test relies on; the oldest of them dates the build. */
const OUTPUTS = ['dist/lib/bin/client-bootstrap.js', 'dist/admin-ui/app.js'];

export default function setup(): void {
  const sources = Math.max(
    newestBelow(join(ROOT, 'src')),
    ...['package.json', 'tsconfig.build.json', 'scripts/build-admin-ui.mjs'].map((f) =>
      newestBelow(join(ROOT, f)),
    ),
  );
  const built = OUTPUTS.every((f) => existsSync(join(ROOT, f)))
    ? Math.min(...OUTPUTS.map((f) => statSync(join(ROOT, f)).mtimeMs))
    : 0;
  if (built >= sources) return;
  console.log('dist/ is older than the sources: npm run build');
  execFileSync('npm', ['run', 'build', '--silent'], {
    cwd: ROOT,
    stdio: 'inherit',
    timeout: 300_000,
  });
}
