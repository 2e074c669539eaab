/** One module as `module.list` describes it (flux-core's fields), for `flux module list` and the extension. */
export interface ModuleInfo {
  name: string;
  path: string;
  idle: number;
  status: number;
  services: string[];
  sendqueue: number;
  recvqueue: number;
}

/** The `mods` of a module.list reply, checked field by field. */
export function parseModuleList(reply: { mods?: unknown }): ModuleInfo[] {
  if (!Array.isArray(reply.mods)) throw new Error('module.list: malformed response (no mods array)');
  return (reply.mods as Partial<ModuleInfo>[]).map((m) => ({
    name: String(m.name ?? '?'),
    path: String(m.path ?? ''),
    idle: Number(m.idle ?? 0),
    status: Number(m.status ?? 0),
    services: Array.isArray(m.services) ? m.services.map(String) : [],
    sendqueue: Number(m.sendqueue ?? 0),
    recvqueue: Number(m.recvqueue ?? 0),
  }));
}
