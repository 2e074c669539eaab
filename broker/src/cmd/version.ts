/** `flux version`: component versions, and the broker's when an instance is reachable. */
import { FLUX_VERSION } from '../common/libflux/version';
import { Flux } from '../common/libflux/handle';
import { out } from './cli';

export async function version(_argv: string[]): Promise<void> {
  out.write(`commands:    \t\t${FLUX_VERSION}\n`);
  out.write(`libflux-core:\t\t${FLUX_VERSION}\n`);
  const uri = process.env.FLUX_URI;
  if (uri) {
    try {
      const h = await Flux.open(uri);
      try {
        out.write(`broker:  \t\t${await h.getattr('version')}\n`);
      } finally {
        h.close();
      }
    } catch {
      // no reachable instance: flux-core prints only the local versions too
    }
    out.write(`FLUX_URI:\t\t${uri}\n`);
  }
  out.write(`build-options:\t\t+node==${process.versions.node}\n`);
}
