import * as net from 'node:net';

/**
 * How the proxy treats connections:
 * - pass: forward both ways (after `delayMs` per chunk, if set);
 * - refuse: nothing listens on the port (connection refused, as when the server is down);
 * - drop: connections are accepted and reset at once;
 * - stall: connections are accepted and nothing is forwarded or answered (a hung server).
 * Changing mode ends every open connection, so no request started before it sees the old mode.
 */
export type FaultMode = 'pass' | 'refuse' | 'drop' | 'stall';

export interface FaultProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Port to listen on (loopback only); default a free one. */
  port?: number;
  mode?: FaultMode;
  delayMs?: number;
}

/** A TCP proxy on loopback that drops, stalls and delays connections to a target, for fault tests. */
export class FaultProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private modeNow: FaultMode;
  private delay: number;
  /** Connections accepted so far, by what happened to them. */
  readonly counts: Record<Exclude<FaultMode, 'refuse'>, number> = { pass: 0, drop: 0, stall: 0 };

  private constructor(
    private readonly opts: FaultProxyOptions,
    public port: number,
  ) {
    this.modeNow = opts.mode ?? 'pass';
    this.delay = opts.delayMs ?? 0;
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const p = new FaultProxy(opts, opts.port ?? 0);
    if (p.modeNow !== 'refuse') await p.listen();
    else if (!opts.port) {
      // Refusing from the start still needs a port to hand out: take one and let it go.
      await p.listen();
      await p.unlisten();
    }
    return p;
  }

  get uri(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): FaultMode {
    return this.modeNow;
  }

  async setMode(mode: FaultMode, delayMs = this.delay): Promise<void> {
    this.delay = delayMs;
    if (mode === this.modeNow) return;
    this.modeNow = mode;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (mode === 'refuse') await this.unlisten();
    else if (!this.server) await this.listen();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await this.unlisten();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((c) => this.accept(c));
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        const addr = server.address();
        if (typeof addr === 'object' && addr) this.port = addr.port;
        this.server = server;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    const mode = this.modeNow;
    if (mode === 'refuse' || mode === 'drop') {
      this.counts.drop++;
      client.resetAndDestroy();
      return;
    }
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    if (mode === 'stall') {
      this.counts.stall++;
      client.resume(); // read and discard: the peer's writes succeed, no answer ever comes
      return;
    }
    this.counts.pass++;
    const upstream = net.connect(this.opts.targetPort, this.opts.targetHost ?? '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    const pipe = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (this.delay <= 0) {
          to.write(chunk);
          return;
        }
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, this.delay);
      });
    pipe(client, upstream);
    pipe(upstream, client);
  }
}
