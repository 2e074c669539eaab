/** A bare usock client for replaying bytes recorded from flux-core clients. */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { UsockDecoder } from '../../broker/src/common/libflux/usock';
import type { Message } from '../../broker/src/common/libflux/message';

export class RawClient {
  private readonly dec = new UsockDecoder();
  private readonly got: Message[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private readonly s: net.Socket) {
    let first = true;
    s.on('data', (d: Buffer) => {
      if (first) {
        assert.equal(d[0], 0, 'handshake byte: accepted');
        d = d.subarray(1);
        first = false;
      }
      this.got.push(...this.dec.push(d));
      for (const w of this.waiters.splice(0)) w();
    });
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

  /** The next message from the broker (bounded wait). */
  async next(ms = 5000): Promise<Message> {
    const deadline = Date.now() + ms;
    while (this.got.length === 0) {
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

  close(): void {
    this.s.destroy();
  }
}
