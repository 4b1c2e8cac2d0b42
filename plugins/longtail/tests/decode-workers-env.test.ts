import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { decodeWorkersFromEnv } from '../src/train/params';

describe('decode threads from the search driver (ICCL_DECODE_WORKERS)', () => {
  it('reads a whole number, 0 when unset, and refuses anything else in one line', () => {
    expect(decodeWorkersFromEnv({})).toBe(0);
    expect(decodeWorkersFromEnv({ ICCL_DECODE_WORKERS: '' })).toBe(0);
    expect(decodeWorkersFromEnv({ ICCL_DECODE_WORKERS: '6' })).toBe(6);
    for (const bad of ['x', '-1', '2.5'])
      expect(() => decodeWorkersFromEnv({ ICCL_DECODE_WORKERS: bad })).toThrow(`ICCL_DECODE_WORKERS: got "${bad}", expected a whole number of decoding threads (0: main thread)`);
  });

  it("is the trainers' default number of decode workers in a process that has it", () => {
    const params = path.join(__dirname, '../src/train/params.ts');
    const read = (env: NodeJS.ProcessEnv) =>
      execFileSync(process.execPath, ['--import', 'tsx', '-e', `process.stdout.write(String(require(${JSON.stringify(params)}).COMMON_PARAMS.workers.default))`], { encoding: 'utf8', env });
    expect(read({ ...process.env, ICCL_DECODE_WORKERS: '3' })).toBe('3');
    const { ICCL_DECODE_WORKERS: _drop, ...without } = process.env;
    expect(read(without)).toBe('0');
  });
});
