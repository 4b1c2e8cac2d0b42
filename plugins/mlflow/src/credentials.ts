/** How requests authenticate; read from MLflow's own environment variables. */
export interface TrackingCredentials {
  username?: string;
  password?: string;
  token?: string;
  /** Accept self-signed / unverifiable TLS certificates (MLFLOW_TRACKING_INSECURE_TLS). */
  insecureTls?: boolean;
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): TrackingCredentials {
  const flag = (env.MLFLOW_TRACKING_INSECURE_TLS ?? '').toLowerCase();
  return {
    username: env.MLFLOW_TRACKING_USERNAME || undefined,
    password: env.MLFLOW_TRACKING_PASSWORD || undefined,
    token: env.MLFLOW_TRACKING_TOKEN || undefined,
    insecureTls: flag === 'true' || flag === '1',
  };
}

/** The Authorization header, or none. Basic wins over bearer, as in MLflow's Python client. */
export function authorizationHeader(c: TrackingCredentials): string | undefined {
  if (c.username !== undefined && c.password !== undefined) {
    return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
  }
  if (c.token) return `Bearer ${c.token}`;
  return undefined;
}

/**
 * Removes secrets from text that may reach a log line, an error or a tag: the password, the token,
 * the base64 header, and `user:password@` inside URLs.
 */
export function redact(text: string, c: TrackingCredentials = {}): string {
  let out = text.replace(/(\w+:\/\/)[^/@\s]*:[^/@\s]*@/g, '$1***@');
  const secrets = [c.password, c.token, authorizationHeader(c)?.split(' ')[1]].filter(
    (s): s is string => typeof s === 'string' && s.length >= 3,
  );
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

/** The tracking URI without any `user:password@` part, for messages and tags. */
export function safeUri(uri: string): string {
  try {
    const u = new URL(uri);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return redact(uri);
  }
}
