// The compiled step with XLA (the GPU's engine, issue 23 item 5), run on the CPU's XLA backend here:
// the graph is marked so that TensorFlow compiles it as one cluster, and 8 steps of it agree with the
// eager step. XLA's own log line is the outside evidence that it compiled (TensorFlow prints it only
// at TF_CPP_MIN_LOG_LEVEL=0, read when TensorFlow starts: hence a child process); the same child
// without XLA prints no such line, so the check can fail. Tolerance 1e-4: XLA fuses and reorders
// float32 sums (measured 3e-7 loss, 9e-7 weights after 8 steps), a wrong graph is off at order 1.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ATTR } from '../src/train/compiled/proto';
import { markForXla, XLA_SCOPE } from '../src/train/compiled/xla';

const CHILD = path.join(__dirname, 'xla-step.ts');
const TOL = 1e-4;

type Child = { fellBack: string | null; traces: number; traced: string[]; loss: number; weights: number; moved: number };

/** The child's JSON line and its stderr (where TensorFlow logs). */
function run(xla: boolean): { out: Child; log: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, ...(xla ? ['xla'] : [])], {
    cwd: path.join(__dirname, '..'),
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '0' },
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`xla-step.ts exited ${r.status ?? r.signal}:\n${(r.stderr ?? '').slice(-2000)}`);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop()!) as Child, log: r.stderr };
}

const COMPILED_LINE = /Compiled cluster using XLA/;

describe('markForXla', () => {
  it('marks every op but the feeds with one compile flag and one scope, and leaves its input as it was', () => {
    const nodes = [
      { name: 'x', op: 'Placeholder', inputs: [], attrs: [{ name: 'dtype', type: ATTR.TYPE, value: 1 }] },
      { name: 'y', op: 'Tanh', inputs: ['x:0'], attrs: [{ name: 'T', type: ATTR.TYPE, value: 1 }, { name: '_XlaScope', type: ATTR.STRING, value: 'old' }] },
    ];
    const before = JSON.stringify(nodes);
    const marked = markForXla(nodes);
    expect(JSON.stringify(nodes)).toBe(before);
    expect(marked[0]).toBe(nodes[0]);
    expect(marked[1].attrs).toEqual([
      { name: 'T', type: ATTR.TYPE, value: 1 },
      { name: '_XlaCompile', type: ATTR.BOOL, value: true },
      { name: '_XlaScope', type: ATTR.STRING, value: XLA_SCOPE },
    ]);
  });
});

describe('the compiled step with XLA, on the CPU', () => {
  it('is compiled by XLA and matches the eager step over 8 steps', () => {
    const { out, log } = run(true);
    expect(log).toMatch(COMPILED_LINE);
    expect(out.fellBack).toBeNull();
    expect(out.traces).toBe(1);
    expect(out.traced[0]).toContain('compiled by XLA');
    expect(out.loss).toBeLessThanOrEqual(TOL);
    expect(out.weights).toBeLessThanOrEqual(TOL);
    // the weights did move: not a comparison of two untouched copies
    expect(out.moved).toBeGreaterThan(1e-3);
  }, 300_000);

  it('without the marks, the same step is not compiled by XLA', () => {
    const { out, log } = run(false);
    expect(log).not.toMatch(COMPILED_LINE);
    expect(out.traced[0]).not.toContain('XLA');
    expect(out.weights).toBeLessThanOrEqual(TOL);
  }, 300_000);
});
