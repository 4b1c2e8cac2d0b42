/**
 * Folds one `--set key=value` into `acc`, for command lines that pin parameters: the value is read as
 * JSON when it parses (numbers, booleans, arrays) and kept as a string otherwise.
 */
export function parseAssignment(v: string, acc: Record<string, unknown> = {}): Record<string, unknown> {
  const i = v.indexOf('=');
  if (i <= 0) throw new Error(`--set: got "${v}", expected key=value`);
  const raw = v.slice(i + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  return { ...acc, [v.slice(0, i)]: value };
}
