/**
 * heartbeat: rank 0 publishes `heartbeat.pulse` every `period` (default 2 s), the
 * instance's clock tick. Loaded on every rank as flux-core's rc1 does; only the
 * leader publishes. Arguments: `period=FSD`.
 *
 * The shape of every module: export `mod_main(ctx, args)` (broker/src/module/runtime.ts);
 * the module loader runs it in a worker thread (or a process with --exec).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_ROUTE, MSGTYPE_EVENT, newMessage } from '../../common/libflux/message';
import { parseFsd } from '../../common/libutil/fsd';
import type { ModuleMain } from '../../module/runtime';

export const mod_main: ModuleMain = (ctx, args) => {
  let period = 2;
  for (const a of args) {
    const m = /^period=(.*)$/.exec(a);
    if (!m) throw new FluxError(errno.EINVAL, `unknown option: ${a}`);
    period = parseFsd(m[1]);
    if (!(period > 0) || !Number.isFinite(period)) throw new FluxError(errno.EINVAL, `invalid period: ${m[1]}`);
  }
  if (ctx.rank !== 0) return;
  const pulse = (): void => {
    const ev = newMessage(MSGTYPE_EVENT, 'heartbeat.pulse');
    ev.flags |= FLAG_ROUTE;
    ctx.h.send(ev);
  };
  const timer = setInterval(pulse, period * 1000);
  ctx.onShutdown(() => clearInterval(timer));
};
