/** A bare usock client for replaying bytes recorded from flux-core clients, or sending garbage. */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { UsockDecoder } from '../../broker/src/common/libflux/usock';
import type { Message } from '../../broker/src/common/libflux/message';

export class RawClient {
  private readonly dec = new UsockDecoder();
  private readonly got: Message[] = [];
  private waiters: (() => void)[] = [];
  /** Resolves when the broker (or we) closed the connection. */
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(private readonly s: net.Socket) {
    let first = true;
    s.on('data', (d: Buffer) => {
      if (first) {
        assert.equal(d[0], 0, 'handshake byte: accepted');
        d = d.subarray(1);
        first = false;
      }
      this.got.push(...this.dec.push(d));
      this.wake();
    });
    // A broker that drops us may reset the connection while we still write: not an error here.
    s.on('error', () => {});
    this.closed = new Promise((resolve) =>
      s.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((res, rej) => {
      const s = net.createConnection(path, () => res(new RawClient(s)));
      s.once('error', rej);
    });
  }

  write(bytes: string | Buffer): void {
    this.s.write(typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes);
  }

  /** Send the last bytes and half-close: the broker sees EOF after them. */
  end(bytes?: Buffer): void {
    if (bytes) this.s.end(bytes);
    else this.s.end();
  }

  /** The next message from the broker (bounded wait). */
  async next(ms = 5000): Promise<Message> {
    const deadline = Date.now() + ms;
    while (this.got.length === 0) {
      if (this.isClosed) throw new Error('connection closed by the broker');
      if (Date.now() > deadline) throw new Error(`no message within ${ms} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.got.shift()!;
  }

  /** Messages up to and including the first for which `last` is true. */
  async until(last: (m: Message) => boolean): Promise<Message[]> {
    const out: Message[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (last(m)) return out;
    }
  }

  /** Wait (bounded) for the connection to close; true if it did. */
  async waitClosed(ms = 5000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), ms);
    });
    const r = await Promise.race([this.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }

  get open(): boolean {
    return !this.isClosed;
  }

  close(): void {
    this.s.destroy();
  }
}
