/**
 * Imported first by the `iccl-run` entry point. Node.js opens its inspector when a process without a
 * SIGUSR1 listener gets SIGUSR1, and Node 20 has no switch to turn that off: with a listener of our
 * own from the first line, a signal never makes a trial listen on a debugger port (with --protocol,
 * SIGUSR1 and SIGUSR2 then ask for a prune; without it, SIGUSR1 does nothing).
 */
process.on('SIGUSR1', () => {});

export {};
