/**
 * The KVS's per-namespace events, `kvs.namespace-<NS>-<KIND>` (setroot, error, created,
 * removed), as the kvs module publishes them and the followers and kvs-watch read them.
 */
import { getJson, type Message } from '../libflux/message';

export interface NamespaceEvent {
  namespace: string;
  kind: string;
  body: Record<string, unknown>;
}

/** The event's namespace, kind and payload; undefined for anything else or a malformed one. */
export function namespaceEvent(m: Message): NamespaceEvent | undefined {
  const topic = m.topic ?? '';
  if (!topic.startsWith('kvs.namespace-')) return undefined;
  let body: Record<string, unknown>;
  try {
    body = getJson(m);
  } catch {
    return undefined;
  }
  const ns = body.namespace;
  const prefix = `kvs.namespace-${String(ns)}-`;
  if (typeof ns !== 'string' || !topic.startsWith(prefix)) return undefined;
  return { namespace: ns, kind: topic.slice(prefix.length), body };
}
