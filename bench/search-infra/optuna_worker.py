"""The anchor: the same worker with Python Optuna 5 (journal file, or RDB over PostgreSQL)."""
import json
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
spec, study_name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if spec.startswith("journal:"):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(spec[len("journal:"):]))
else:
    storage = optuna.storages.RDBStorage(spec.replace("postgresql://", "postgresql+psycopg2://"))
study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler())
mine = []
study.optimize(lambda t: t.suggest_float("x", -10, 10) ** 2, n_trials=n, callbacks=[lambda s, t: mine.append(t.number)])
print(json.dumps(mine))
