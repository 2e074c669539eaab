/**
 * The `config` built-in: the broker's TOML configuration (flux-config(5)),
 * read from `--config-path` at start and again on `config.reload`;
 * `config.get` answers the whole object (`flux config get` picks keys from it).
 */
import { errno, FluxError } from '../common/libflux/errno';
import { ConfError, loadConfPath, type ConfObject } from '../common/libutil/conf';
import type { ServiceTable } from './service';

export class ConfigService {
  conf: ConfObject = {};

  constructor(private readonly path: string | undefined) {}

  /** Read the configuration; a bad file stops the broker with `Config file error: ...`. */
  async load(): Promise<void> {
    if (this.path === undefined) return;
    try {
      this.conf = await loadConfPath(this.path);
    } catch (e) {
      if (e instanceof ConfError) throw new Error(`Config file error: ${e.message}`, { cause: e });
      throw e;
    }
  }

  register(services: ServiceTable): void {
    services.register('config.get', (r) => r.respond(this.conf));
    services.register('config.reload', async (r) => {
      if (this.path === undefined) {
        r.respond({});
        return;
      }
      try {
        this.conf = await loadConfPath(this.path);
      } catch (e) {
        // The old configuration stays in force, as flux-core does on a failed reload.
        throw new FluxError(errno.EINVAL, e instanceof Error ? e.message : String(e));
      }
      r.respond({});
    });
  }
}
