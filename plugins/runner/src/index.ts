export { runTrial, type RunTrialOptions } from './run-trial';
