"""Python Optuna drives the ICCL trainer plugin, with pruning.

Each Optuna trial is one process, `iccl-run @iccl/iccl --protocol --wait-for-decision --report-metric
val/top1` (the runner's trial protocol, plugins/runner/README.md): the objective reads the trial's JSON
lines from its stdout, passes every intermediate top-1 to `trial.report`, answers each report with
`prune` when `trial.should_prune()` says so (else `continue`), and turns exit status 3 into
`optuna.TrialPruned`. The pruned trial's checkpoint stays in its work folder.

With --prune-by-signal it plays a tool that can only signal: no answers on stdin, but SIGUSR2 to the
`pid` of the trial's `hello` line when `trial.should_prune()` says so. That pid, not the one Popen
returns: `npx iccl-run` is npm, then a shell, then the trial, and npm passes on only SIGINT and SIGTERM
(SIGUSR2 would end npm and leave the trial running; SIGUSR1 would make npm open a debugger port).

    python examples/optuna/optuna_iccl.py --trials 3 --runner "npx iccl-run"          # in a project with the packages
    python examples/optuna/optuna_iccl.py --runner "npx tsx plugins/runner/src/cli.ts"  # in this repository
    python examples/optuna/optuna_iccl.py --prune-by-signal                             # prune by SIGUSR2

The first two trials are enqueued (a reasonable learning rate, then a far too small one) so that the
median pruner has a reference and something to prune; the rest are Optuna's TPE.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys

import optuna

# Small enough for a CPU in CI: the synthetic long-tailed set, a small CNN, three epochs of stage 1.
FIXED = {
    "dataset": "synthetic",
    "model": "small-cnn",
    "width": 8,
    "epochs": 3,
    "iccWarmupEpochs": 1,
    "crtEpochs": 0,
    "warmupEpochs": 0,
    "batchSize": 32,
    "maxPerClass": 100,
    "testPerClass": 20,
    "evalEvery": 1,
    "device": "cpu",
}

EXIT_PRUNED = 3


def send(proc, kind):
    proc.stdin.write(json.dumps({"type": kind}) + "\n")
    proc.stdin.flush()


def make_objective(runner, work_dir, by_signal):
    def objective(trial):
        params = {
            "lr": trial.suggest_float("lr", 1e-5, 0.3, log=True),
            "alpha": trial.suggest_float("alpha", 0.1, 2.0),
        }
        run_id = f"optuna-trial-{trial.number}"
        cmd = runner + ["@iccl/iccl", "--protocol", "--report-metric", "val/top1",
                        "--tracker", "none", "--work-dir", work_dir, "--run-id", run_id]
        if not by_signal:
            cmd.append("--wait-for-decision")
        for key, value in {**FIXED, **params}.items():
            cmd += ["--set", f"{key}={value}"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        result = None
        trial_pid = None
        for line in proc.stdout:
            msg = json.loads(line)
            if msg["type"] == "hello":
                trial_pid = msg["pid"]  # the trial itself, whatever launcher is in between
            elif msg["type"] == "report":
                trial.report(msg["value"], msg["step"])
                if not by_signal:
                    send(proc, "prune" if trial.should_prune() else "continue")
                elif trial.should_prune() and trial_pid:
                    try:
                        os.kill(trial_pid, signal.SIGUSR2)  # obeyed at the trial's next report
                    except ProcessLookupError:
                        pass  # it had ended already
                    trial_pid = None
            elif msg["type"] == "result":
                result = msg
        code = proc.wait()
        if code == EXIT_PRUNED and result and result["status"] == "pruned":
            trial.set_user_attr("checkpoint", result["checkpoint"])
            raise optuna.TrialPruned(f"pruned at step {result['step']}")
        if code != 0 or not result or result["status"] != "complete":
            raise RuntimeError(f"trial {trial.number}: exit status {code}: {result and result.get('error')}")
        return result["value"]

    return objective


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--runner", default="npx iccl-run", help="command that starts the runner")
    ap.add_argument("--storage", default=None, help="Optuna storage, e.g. a journal file path (default: in memory)")
    ap.add_argument("--work-dir", default="runs/optuna", help="trial checkpoints: <dir>/optuna-trial-N")
    ap.add_argument("--prune-by-signal", action="store_true", help="prune with SIGUSR2 to the trial's pid instead of a stdin answer")
    args = ap.parse_args()

    storage = None
    if args.storage:
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        storage = JournalStorage(JournalFileBackend(args.storage))
    study = optuna.create_study(
        study_name="iccl-from-optuna", storage=storage, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
    )
    study.enqueue_trial({"lr": 0.1, "alpha": 1.0})
    study.enqueue_trial({"lr": 1e-5, "alpha": 1.0})
    study.optimize(make_objective(shlex.split(args.runner), os.path.abspath(args.work_dir), args.prune_by_signal), n_trials=args.trials)

    states = [t.state.name for t in study.trials]
    print(f"trials: {len(states)}, complete: {states.count('COMPLETE')}, pruned: {states.count('PRUNED')}")
    print(f"best value (val/top1): {study.best_value} with {json.dumps(study.best_params)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
