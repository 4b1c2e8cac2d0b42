/**
 * Imported first by every entry point of this package (the driver's command line, the trial
 * process). Node.js opens its inspector when a process without a SIGUSR1 listener gets SIGUSR1, and
 * Node 20 has no switch to turn that off: with a listener of our own, from the first line, a signal
 * can never make one of our processes listen on a debugger port.
 */
process.on('SIGUSR1', () => {});

export {};
