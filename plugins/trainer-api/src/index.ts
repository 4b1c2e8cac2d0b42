export * from './params';
export * from './tracker';
export * from './logger';
export * from './trainer';
export { loadPlugin } from './load-plugin';
export { parseAssignment } from './assignment';
export { ConsoleTracker, ConsoleTrackingBackend } from './trackers/console';
export { JsonlTracker, JsonlTrackingBackend, readJsonl, type JsonlRecord } from './trackers/jsonl';
export { NullTracker } from './trackers/null';
