import { fDouble, fMessage, fString, fVarint, message, type Field } from './proto';

/**
 * TensorBoard's HParams plugin data (tensorboard/plugins/hparams/{plugin_data,api}.proto):
 * HParamsPluginData{version=1, experiment=2 | session_start_info=3 | session_end_info=4}, under the
 * tags below in a summary whose plugin is "hparams".
 */
export const HPARAMS_PLUGIN = 'hparams';
export const EXPERIMENT_TAG = '_hparams_/experiment';
export const SESSION_START_TAG = '_hparams_/session_start_info';
export const SESSION_END_TAG = '_hparams_/session_end_info';

export type HParamValue = string | number | boolean;

/** google.protobuf.Value{number_value=2, string_value=3, bool_value=4}. */
function value(v: HParamValue): Field[] {
  if (typeof v === 'number') return [fDouble(2, v)];
  if (typeof v === 'boolean') return [fVarint(4, v ? 1 : 0)];
  return [fString(3, v)];
}

const pluginData = (oneof: Field) => message(fVarint(1, 0), oneof);

/** SessionStartInfo{hparams=1 map<string, Value>, group_name=4, start_time_secs=5}. */
export function sessionStartInfo(
  hparams: Record<string, HParamValue>,
  startTimeSecs: number,
  groupName = '',
): Uint8Array {
  const entries = Object.entries(hparams).map(([k, v]) =>
    fMessage(1, fString(1, k), fMessage(2, ...value(v))),
  );
  return pluginData(
    fMessage(3, ...entries, ...(groupName ? [fString(4, groupName)] : []), fDouble(5, startTimeSecs)),
  );
}

/** api.Status: STATUS_SUCCESS = 1, STATUS_FAILURE = 2, STATUS_RUNNING = 3. */
export type SessionStatus = 1 | 2 | 3;

/** SessionEndInfo{status=1, end_time_secs=2}. */
export function sessionEndInfo(status: SessionStatus, endTimeSecs: number): Uint8Array {
  return pluginData(fMessage(4, fVarint(1, status), fDouble(2, endTimeSecs)));
}

/** api.DataType: STRING = 1, BOOL = 2, FLOAT64 = 3. */
export interface HParamInfo {
  name: string;
  type: 1 | 2 | 3;
  /** FLOAT64: the range seen; STRING / BOOL: the values seen. */
  interval?: [number, number];
  discrete?: HParamValue[];
}

/** What the trials' hparams span: a range for numbers, the values seen for strings and booleans. */
export function hparamInfos(sessions: Record<string, HParamValue>[]): HParamInfo[] {
  const names = [...new Set(sessions.flatMap((s) => Object.keys(s)))].sort();
  return names.map((name) => {
    const vs = sessions.map((s) => s[name]).filter((v) => v !== undefined);
    if (vs.every((v) => typeof v === 'number'))
      return { name, type: 3, interval: [Math.min(...(vs as number[])), Math.max(...(vs as number[]))] };
    if (vs.every((v) => typeof v === 'boolean')) return { name, type: 2, discrete: [...new Set(vs)] };
    return { name, type: 1, discrete: [...new Set(vs.map(String))].sort() };
  });
}

/** Experiment{name=6, time_created_secs=3, hparam_infos=4, metric_infos=5}: the columns the dashboard shows. */
export function experiment(
  name: string,
  timeCreatedSecs: number,
  hparams: HParamInfo[],
  metricTags: string[],
): Uint8Array {
  const hp = hparams.map((h) => {
    // HParamInfo{name=1, type=4, domain_discrete=5 ListValue{values=1}, domain_interval=6 Interval{min=1, max=2}}
    const domain = h.interval
      ? fMessage(6, fDouble(1, h.interval[0]), fDouble(2, h.interval[1]))
      : fMessage(5, ...(h.discrete ?? []).map((v) => fMessage(1, ...value(v))));
    return fMessage(4, fString(1, h.name), fVarint(4, h.type), domain);
  });
  // MetricInfo{name=1 MetricName{group=1, tag=2}}: group "" means the session's own run
  const metrics = metricTags.map((tag) => fMessage(5, fMessage(1, fString(2, tag))));
  return pluginData(fMessage(2, fString(6, name), fDouble(3, timeCreatedSecs), ...hp, ...metrics));
}
