/**
 * Imported first by the `iccl-mlflow-sync` entry point. Node.js opens its inspector when a process
 * without a SIGUSR1 listener gets SIGUSR1 (Node 20 has no switch to turn that off): with a listener
 * of our own from the first line, a stray signal (a scheduler's, a script's) does nothing here.
 */
process.on('SIGUSR1', () => {});

export {};
