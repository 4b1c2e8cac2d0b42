"""Benchmark objectives for Optuna: the same formulas as functions.ts."""
import math

def branin(x1, x2):
    b = 5.1 / (4 * math.pi ** 2); c = 5 / math.pi; t = 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

H_ALPHA = [1.0, 1.2, 3.0, 3.2]
H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H_P = [[v * 1e-4 for v in r] for r in [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]]

def hartmann6(x):
    return -sum(H_ALPHA[i] * math.exp(-sum(H_A[i][j] * (x[j] - H_P[i][j]) ** 2 for j in range(6))) for i in range(4))

def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))

def ackley(x):
    d = len(x)
    s1 = sum(v * v for v in x) / d
    s2 = sum(math.cos(2 * math.pi * v) for v in x) / d
    return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e

OPT_LR = {'sgd': -1.5, 'adam': -3.0, 'adamw': -2.7}
OPT_PEN = {'sgd': 0.3, 'adam': 0.1, 'adamw': 0}

def hp_loss(p):
    o = p['optimizer']
    return ((math.log10(p['lr']) - OPT_LR[o]) ** 2 + 0.5 * (math.log10(p['weight_decay']) + 4) ** 2
            + 0.075 * (math.log2(p['batch_size']) - 7) ** 2 + 4 * (p['dropout'] - 0.2) ** 2
            + 0.2 * (p['layers'] - 3) ** 2 + OPT_PEN[o])

X6 = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5']

def objective(name):
    if name == 'branin':
        return lambda t: branin(t.suggest_float('x0', -5, 10), t.suggest_float('x1', 0, 15))
    if name == 'hartmann6':
        return lambda t: hartmann6([t.suggest_float(k, 0, 1) for k in X6])
    if name == 'rosenbrock4':
        return lambda t: rosenbrock([t.suggest_float(k, -5, 10) for k in X6[:4]])
    if name == 'ackley5':
        return lambda t: ackley([t.suggest_float(k, -32.768, 32.768) for k in X6[:5]])
    if name == 'hp-mixed':
        return lambda t: hp_loss({
            'lr': t.suggest_float('lr', 1e-5, 1e-1, log=True),
            'weight_decay': t.suggest_float('weight_decay', 1e-6, 1e-2, log=True),
            'batch_size': t.suggest_int('batch_size', 16, 512, log=True),
            'dropout': t.suggest_float('dropout', 0, 0.5, step=0.05),
            'layers': t.suggest_int('layers', 1, 6),
            'optimizer': t.suggest_categorical('optimizer', ['sgd', 'adam', 'adamw']),
        })
    raise ValueError(name)

def evaluate(name, p):
    if name == 'branin': return branin(p['x0'], p['x1'])
    if name == 'hartmann6': return hartmann6([p[k] for k in X6])
    if name == 'rosenbrock4': return rosenbrock([p[k] for k in X6[:4]])
    if name == 'ackley5': return ackley([p[k] for k in X6[:5]])
    if name == 'hp-mixed': return hp_loss(p)
    raise ValueError(name)
