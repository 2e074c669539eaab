/**
 * The initial program of the start-up benchmark (bundled into out/bench/first-rpc.js and run
 * as `flux start --test-size=N node out/bench/first-rpc.js`): connects to $FLUX_URI, sends one
 * attr.get, and prints one JSON line of epoch-millisecond timestamps:
 *   started  - this process began (performance.timeOrigin): "the initial program runs"
 *   answered - the attr.get response arrived
 *   exiting  - right before exit (teardown is measured from here)
 */
import { Flux } from '../../broker/src/common/libflux/handle';

async function main(): Promise<void> {
  const started = performance.timeOrigin;
  const h = await Flux.open();
  const size = await h.getattr('size');
  const answered = performance.timeOrigin + performance.now();
  h.close();
  const exiting = performance.timeOrigin + performance.now();
  process.stdout.write(`FIRST_RPC ${JSON.stringify({ started, answered, exiting, size })}\n`, () => process.exit(0));
}

const watchdog = setTimeout(() => {
  process.stderr.write('first-rpc: no answer within 30 s\n');
  process.exit(2);
}, 30_000);
watchdog.unref();

main().catch((e: unknown) => {
  process.stderr.write(`first-rpc: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
