import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** Loads sync-cli.ts (its main does not run), sends itself SIGUSR1, then says whether the inspector opened. */
const SCRIPT = `
require(${JSON.stringify(path.join(__dirname, '..', 'src', 'sync-cli.ts'))});
process.kill(process.pid, 'SIGUSR1');
setTimeout(() => { console.log('inspector ' + (require('node:inspector').url() ?? 'closed')); process.exit(0); }, 1000);
`;

describe('sync-cli and SIGUSR1', () => {
  test('a SIGUSR1 does not open the inspector', () => {
    const loader = pathToFileURL(require.resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', loader, '-e', SCRIPT], { encoding: 'utf8', timeout: 120_000, cwd: path.join(__dirname, '..', '..', '..') });
    expect(r.stderr).not.toMatch(/Debugger listening/);
    expect(r.stdout.trim()).toBe('inspector closed');
  });
});
