export { TensorBoardTracker, TensorBoardTrackingBackend, type TensorBoardBackendOptions } from './tracker';
export { EventFileWriter, tfRecord, eventBytes, scalarBody, pluginBody } from './events';
export { crc32c, maskedCrc32c } from './crc32c';
export {
  experiment,
  hparamInfos,
  sessionStartInfo,
  sessionEndInfo,
  EXPERIMENT_TAG,
  SESSION_START_TAG,
  SESSION_END_TAG,
  HPARAMS_PLUGIN,
  type HParamInfo,
  type HParamValue,
} from './hparams';
