"""Runs Optuna's samplers for the search benchmarks. Reads a JSON job on stdin, prints JSON."""
import json, os, statistics, sys, time
sys.path.insert(0, os.path.dirname(__file__))
import optuna
from functions import objective, evaluate

optuna.logging.set_verbosity(optuna.logging.ERROR)


def make_sampler(kind, seed, multivariate):
    if kind == 'tpe':
        return optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
    if kind == 'random':
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == 'gp':
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(kind)


def efficiency(job):
    out = []
    for fn in job['functions']:
        for seed in job['seeds']:
            study = optuna.create_study(sampler=make_sampler(job['sampler'], seed, job['multivariate']),
                                        pruner=optuna.pruners.NopPruner())
            t0 = time.perf_counter()
            study.optimize(objective(fn), n_trials=max(job['checkpoints']))
            secs = time.perf_counter() - t0
            vals = [t.value for t in study.trials]
            best = {str(c): min(vals[:c]) for c in job['checkpoints']}
            out.append({'fn': fn, 'seed': seed, 'best': best, 'seconds': secs})
    return out


def overhead(job):
    """Median ask+tell latency (ask, 8 suggests, tell) with n_finished trials already in the study."""
    storage = optuna.storages.InMemoryStorage()
    names = [f'p{i}' for i in range(8)]
    filler = optuna.create_study(storage=storage, study_name='ovh', sampler=optuna.samplers.RandomSampler(seed=0))
    filler.optimize(lambda t: sum((t.suggest_float(n, -5, 5) - 1) ** 2 for n in names), n_trials=job['n_finished'])
    res = {}
    for mode, mv in [('multivariate', True), ('independent', False)]:
        study = optuna.load_study(study_name='ovh', storage=storage, sampler=optuna.samplers.TPESampler(seed=1, multivariate=mv))
        lat = []
        for _ in range(job['repeats']):
            t0 = time.perf_counter()
            tr = study.ask()
            v = sum((tr.suggest_float(n, -5, 5) - 1) ** 2 for n in names)
            study.tell(tr, v)
            lat.append(time.perf_counter() - t0)
        res[mode] = {'median_ms': statistics.median(lat) * 1e3, 'n': len(lat)}
    return res


def multiobjective(job):
    """Hypervolume of the Pareto front after n trials, per seed, for NSGA-II and MOTPE (TPE with 2 objectives)."""
    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    def obj(t):
        x = [t.suggest_float(f'x{i}', -2, 3) for i in range(3)]
        return sum(v * v for v in x), sum((v - 1) ** 2 for v in x)

    out = []
    for seed in job['seeds']:
        if job['sampler'] == 'nsga2':
            sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=job['population'])
        elif job['sampler'] == 'tpe':
            sampler = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.RandomSampler(seed=seed)
        study = optuna.create_study(directions=['minimize', 'minimize'], sampler=sampler)
        study.optimize(obj, n_trials=job['trials'])
        front = np.array([t.values for t in study.best_trials])
        out.append(float(compute_hypervolume(front, np.array(job['ref'], dtype=float))))
    return out


def conditional(job):
    """Best value after n trials on a two-branch conditional objective, TPE with or without group."""
    import warnings
    warnings.filterwarnings('ignore')

    def obj(t):
        kind = t.suggest_categorical('kind', ['a', 'b'])
        if kind == 'a':
            return sum((t.suggest_float(f'a{i}', -5, 5) - 1) ** 2 for i in range(3)) + 0.5
        return sum((t.suggest_float(f'b{i}', -5, 5) + 0.5 * i) ** 2 for i in range(3))

    out = []
    for seed in job['seeds']:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True, group=job['group']))
        study.optimize(obj, n_trials=job['trials'])
        out.append(study.best_value)
    return out


def main():
    job = json.load(sys.stdin)
    if job['kind'] == 'check':
        print(json.dumps([evaluate(job['fn'], p) for p in job['points']]))
    elif job['kind'] == 'efficiency':
        print(json.dumps(efficiency(job)))
    elif job['kind'] == 'multiobjective':
        print(json.dumps(multiobjective(job)))
    elif job['kind'] == 'conditional':
        print(json.dumps(conditional(job)))
    elif job['kind'] == 'overhead':
        print(json.dumps(overhead(job)))


if __name__ == '__main__':
    main()
