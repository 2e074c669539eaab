/**
 * Client-side transports for a Flux URI. Both speak usock framing after a
 * one-byte handshake: `local://PATH` over a Unix socket, `ssh://[user@]host[:port]/PATH`
 * over the stdio of `ssh host flux relay PATH` (as flux-core's ssh connector).
 */
import * as net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { errno, FluxError } from './errno';
import { parseUri } from './uri';

export interface Transport {
  write(buf: Buffer): void;
  /** Called with stream data after the handshake byte. */
  onData(cb: (chunk: Buffer) => void): void;
  onClose(cb: (err?: Error) => void): void;
  close(): void;
  /** Keep the process alive only while requests are outstanding. */
  ref(): void;
  unref(): void;
}

/** Wait for the handshake byte on a stream, then hand the rest over as data. */
function handshake(
  onReady: (rest: Buffer) => void,
  onFail: (err: Error) => void,
): (chunk: Buffer) => boolean {
  let done = false;
  return (chunk: Buffer): boolean => {
    if (done) return false;
    done = true;
    const code = chunk[0];
    if (code !== 0) {
      onFail(new FluxError(code || errno.EPROTO));
      return true;
    }
    onReady(chunk.subarray(1));
    return true;
  };
}

class SocketTransport implements Transport {
  private dataCb: (chunk: Buffer) => void = () => {};
  private closeCb: (err?: Error) => void = () => {};
  constructor(private readonly sock: net.Socket) {
    sock.on('close', () => this.closeCb());
    sock.on('error', (e) => this.closeCb(e));
  }
  attach(): void {
    this.sock.on('data', (c: Buffer) => this.dataCb(c));
  }
  write(buf: Buffer): void {
    this.sock.write(buf);
  }
  onData(cb: (chunk: Buffer) => void): void {
    this.dataCb = cb;
  }
  onClose(cb: (err?: Error) => void): void {
    this.closeCb = cb;
  }
  close(): void {
    // end(), not destroy(): what was written (a fire-and-forget event) still goes out.
    this.sock.end();
    this.sock.unref();
  }
  ref(): void {
    this.sock.ref();
  }
  unref(): void {
    this.sock.unref();
  }
}

function connectLocal(path: string): Promise<{ t: Transport; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path });
    const t = new SocketTransport(sock);
    const fail = (e: Error): void => {
      sock.destroy();
      reject(e);
    };
    sock.once('error', (e) => fail(FluxError.fromNode(e)));
    const first = handshake((rest) => {
      sock.removeAllListeners('data');
      sock.removeAllListeners('error');
      sock.on('error', () => {});
      t.attach();
      resolve({ t, rest });
    }, fail);
    sock.on('data', (c: Buffer) => void first(c));
  });
}

class ChildTransport implements Transport {
  private dataCb: (chunk: Buffer) => void = () => {};
  private closeCb: (err?: Error) => void = () => {};
  constructor(private readonly child: ChildProcess) {
    child.on('exit', () => this.closeCb());
    child.on('error', (e) => this.closeCb(e));
  }
  attach(): void {
    this.child.stdout!.on('data', (c: Buffer) => this.dataCb(c));
  }
  write(buf: Buffer): void {
    this.child.stdin!.write(buf);
  }
  onData(cb: (chunk: Buffer) => void): void {
    this.dataCb = cb;
  }
  onClose(cb: (err?: Error) => void): void {
    this.closeCb = cb;
  }
  close(): void {
    this.child.stdin!.end();
    this.child.kill();
  }
  ref(): void {
    this.child.ref();
    (this.child.stdout as unknown as net.Socket).ref?.();
  }
  unref(): void {
    this.child.unref();
    (this.child.stdout as unknown as net.Socket).unref?.();
    (this.child.stdin as unknown as net.Socket).unref?.();
  }
}

function connectSsh(user: string | undefined, host: string, port: string | undefined, path: string): Promise<{ t: Transport; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const ssh = process.env.FLUX_SSH || 'ssh';
    const rcmd = process.env.FLUX_SSH_RCMD || 'flux';
    const args: string[] = [];
    if (port) args.push('-p', port);
    args.push(user ? `${user}@${host}` : host, rcmd, 'relay', path);
    const child = spawn(ssh, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const t = new ChildTransport(child);
    let settled = false;
    child.once('error', (e) => {
      if (!settled) {
        settled = true;
        reject(FluxError.fromNode(e));
      }
    });
    child.once('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new FluxError(errno.ECONNREFUSED, `${ssh} ${host}: relay exited with status ${code ?? 'signal'} before the handshake`));
      }
    });
    const first = handshake((rest) => {
      settled = true;
      child.stdout!.removeAllListeners('data');
      t.attach();
      resolve({ t, rest });
    }, (e) => {
      settled = true;
      child.kill();
      reject(e);
    });
    child.stdout!.on('data', (c: Buffer) => void first(c));
  });
}

export async function connectUri(uri: string): Promise<{ t: Transport; rest: Buffer }> {
  const u = parseUri(uri);
  if (u.scheme === 'local') return connectLocal(u.path);
  return connectSsh(u.user, u.host, u.port, u.path);
}
