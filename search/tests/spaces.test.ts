import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkData, CompiledSpace, loadSearchSpace, parseSearchSpace, SearchSpaceError } from '../src/spaces';
import { StudyDirection } from '../src/study/trial-types';
import type { ParamValue } from '../src/study/distributions';
import { REPO, tmpDir } from './helpers';

const SPACES = path.join(REPO, 'search-spaces');
const base = { name: 't', plugin: '@iccl/toy', objectives: [{ metric: 'loss', direction: 'minimize' }] };

/** A suggester that records calls and returns the first choice / the low end. */
function recorder() {
  const calls: string[] = [];
  return {
    calls,
    async suggestFloat(name: string, low: number, high: number, o?: { log?: boolean }) {
      calls.push(`float ${name} ${low} ${high}${o?.log ? ' log' : ''}`);
      return low;
    },
    async suggestInt(name: string, low: number) {
      calls.push(`int ${name}`);
      return low;
    },
    async suggestCategorical<T extends ParamValue>(name: string, choices: readonly T[]): Promise<T> {
      calls.push(`cat ${name}`);
      return name === 'method' ? (choices[choices.length - 1] as T) : choices[0];
    },
  };
}

describe('search-space files', () => {
  it.each(['toy', 'demo', 'cifar10-lt', 'cifar10-lt-iccl-demo', 'cifar100-lt', 'imagenet-lt', 'inat18'])('%s validates, with its smoke configuration', (name) => {
    const s = loadSearchSpace(name, undefined, SPACES);
    expect(s.name).toBe(name);
    const smoke = loadSearchSpace(name, 'smoke', SPACES);
    expect(smoke.budget.trials).toBeLessThanOrEqual(6);
  });

  it('the ICCL spaces search the ICCL parameters and are multi-objective one configuration away', () => {
    const s = loadSearchSpace('inat18', undefined, SPACES);
    for (const p of ['alpha', 'tau', 'centroidMomentum', 'samplerRatio', 'lr', 'weightDecay', 'wIcc']) expect(s.params[p]).toBeDefined();
    expect(s.params.tau).toMatchObject({ type: 'float', log: true });
    const multi = loadSearchSpace('inat18', 'multi', SPACES);
    expect(multi.objectives.map((o) => o.metric)).toEqual(['val/top1', 'val/few']);
    expect(multi.budget.trials).toBe(s.budget.trials); // only what the configuration names changes
  });

  const bad: [string, unknown, string][] = [
    ['a wrong type names the field and value', { ...base, params: { x: { type: 'float', low: 'zero', high: 1 } } }, 'field "params.x.low": got "zero", expected number'],
    ['an unknown param type', { ...base, params: { x: { type: 'uniform', low: 0, high: 1 } } }, 'field "params.x.type"'],
    ['a typo in a field', { ...base, budjet: { trials: 3 } }, 'unknown field(s) "budjet"'],
    ['missing objectives', { name: 't', plugin: 'p' }, 'field "objectives": got nothing'],
    ['a bad direction', { ...base, objectives: [{ metric: 'm', direction: 'up' }] }, 'field "objectives.0.direction": got "up"'],
    ['low above high', { ...base, params: { x: { type: 'float', low: 2, high: 1 } } }, 'field "params.x": low 2 is above high 1'],
    ['log scale with low <= 0', { ...base, params: { x: { type: 'float', low: 0, high: 1, log: true } } }, 'field "params.x.low": got 0, expected a number > 0 for a log scale'],
    ['a condition on an unknown parameter', { ...base, params: { x: { type: 'float', low: 0, high: 1, when: { m: ['a'] } } } }, 'field "params.x.when.m": expected the name of a categorical parameter'],
    [
      'a condition on a value the parameter cannot take',
      { ...base, params: { m: { type: 'categorical', choices: ['a'] }, x: { type: 'float', low: 0, high: 1, when: { m: ['b'] } } } },
      'field "params.x.when.m": got "b", expected one of ["a"]',
    ],
    ['a plugin map missing a choice', { ...base, plugin: { param: 'm', map: { a: { plugin: 'p' } } }, params: { m: { type: 'categorical', choices: ['a', 'b'] } } }, 'field "plugin.map": no entry for m="b"'],
    ['a bad budget', { ...base, budget: { trials: 0 } }, 'field "budget.trials": got 0'],
  ];
  it.each(bad)('rejects %s with one clear line', (_what, raw, message) => {
    let err: Error | null = null;
    try {
      parseSearchSpace(raw, 'spaces/t.json');
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(SearchSpaceError);
    expect(err!.message).toContain('spaces/t.json: ');
    expect(err!.message).toContain(message);
    expect(err!.message).not.toContain('\n');
  });

  it('names the line of a JSON syntax error and an unknown configuration', () => {
    const dir = tmpDir('spaces');
    const f = path.join(dir, 'broken.json');
    fs.writeFileSync(f, '{\n  "name": "x",\n  "plugin": oops\n}\n');
    expect(() => loadSearchSpace(f)).toThrow(`${f}:3: not valid JSON`);
    expect(() => loadSearchSpace('toy', 'huge', SPACES)).toThrow('no configuration "huge" (known: smoke)');
    expect(() => loadSearchSpace('nope', undefined, SPACES)).toThrow('nope: search-space file not found');
  });
});

describe('CompiledSpace', () => {
  it('suggests conditional parameters only when their condition holds, and maps the method to its plugin', async () => {
    const s = loadSearchSpace('cifar10-lt', undefined, SPACES);
    const repo = tmpDir('repo');
    fs.mkdirSync(path.join(repo, 'configs'));
    fs.writeFileSync(path.join(repo, 'configs/cifar10-lt.json'), JSON.stringify({ epochs: 200 }));
    const c = new CompiledSpace(s, 'cifar10-lt', { repoRoot: repo });
    expect(c.directions).toEqual([StudyDirection.MAXIMIZE]);
    // method = 'mixup' (the recorder takes the last choice): no ICCL parameters, mixupAlpha yes
    const r = recorder();
    const sampled = await c.suggest(r);
    expect(r.calls[0]).toBe('cat method');
    expect(Object.keys(sampled).sort()).toEqual(['alpha', 'lr', 'method', 'weightDecay']);
    const plan = c.plan(sampled);
    expect(plan.plugin).toBe('@iccl/baselines#mixup');
    expect(plan.params).toEqual({ epochs: 200, lr: 1e-3, weightDecay: 1e-5, alpha: 0.1 }); // the selector is not passed on
    // --set method=ce pins the selector: conditions read the pinned value
    const ce = new CompiledSpace(s, 'cifar10-lt', { repoRoot: repo, set: { method: 'ce' } });
    const r2 = recorder();
    const sampledCe = await ce.suggest(r2);
    expect(Object.keys(sampledCe).sort()).toEqual(['lr', 'weightDecay']);
    expect(ce.plan(sampledCe).plugin).toBe('@iccl/baselines#ce');
    const iccl = c.plan({ method: 'iccl', alpha: 0.5 });
    expect(iccl.plugin).toBe('@iccl/iccl');
    expect(iccl.params.method).toBeUndefined();
  });

  it('reads fixed parameters from the protocol file, --set pins a searched parameter, and the signature follows', async () => {
    const dir = tmpDir('proto');
    fs.mkdirSync(path.join(dir, 'configs'));
    fs.writeFileSync(path.join(dir, 'configs/p.json'), JSON.stringify({ epochs: 200, batchSize: 128 }));
    const raw = { ...base, protocol: 'configs/p.json', fixed: { epochs: 3 }, params: { x: { type: 'float', low: 0, high: 1 }, y: { type: 'float', low: 0, high: 1 } } };
    const s = parseSearchSpace(raw, 't');
    const c = new CompiledSpace(s, 't', { repoRoot: dir, set: { y: 0.25 } });
    expect(c.fixed).toEqual({ epochs: 3, batchSize: 128, y: 0.25 });
    const r = recorder();
    expect(await c.suggest(r)).toEqual({ x: 0 });
    expect(c.plan({ x: 0.5 }).params).toEqual({ epochs: 3, batchSize: 128, y: 0.25, x: 0.5 });
    const same = new CompiledSpace(parseSearchSpace(raw, 't'), 't', { repoRoot: dir, set: { y: 0.25 } });
    const other = new CompiledSpace(parseSearchSpace(raw, 't'), 't', { repoRoot: dir, set: { y: 0.5 } });
    expect(same.signature().hash).toBe(c.signature().hash);
    expect(other.signature().hash).not.toBe(c.signature().hash);
    expect(() => new CompiledSpace(parseSearchSpace({ ...raw, protocol: 'configs/missing.json' }, 't'), 't', { repoRoot: dir })).toThrow(
      `t: field "protocol": file ${path.join(dir, 'configs/missing.json')} does not exist`,
    );
  });

  it('without the data, inat18 stops with one line naming the files it expects', () => {
    const s = loadSearchSpace('inat18', undefined, SPACES);
    const dir = tmpDir('nodata');
    expect(() => checkData(s, dir)).toThrow(
      `inat18: data not found in ${dir}: expected train2018.json or iNaturalist18_train.txt, val2018.json or iNaturalist18_val.txt (missing train2018.json or iNaturalist18_train.txt, val2018.json or iNaturalist18_val.txt); pass --data-dir DIR`,
    );
    fs.writeFileSync(path.join(dir, 'train2018.json'), '{}');
    expect(() => checkData(s, dir)).toThrow('(missing val2018.json or iNaturalist18_val.txt)');
    fs.writeFileSync(path.join(dir, 'iNaturalist18_val.txt'), '');
    expect(() => checkData(s, dir)).not.toThrow();
    const repo = tmpDir('repo');
    fs.mkdirSync(path.join(repo, 'configs'));
    fs.writeFileSync(path.join(repo, 'configs/inat18.json'), '{}');
    expect(new CompiledSpace(s, 'inat18', { repoRoot: repo, dataDir: dir }).fixed.dataDir).toBe(dir);
  });
});
