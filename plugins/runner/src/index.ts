export { runTrial, trainTrial, type RunTrialOptions } from './run-trial';
