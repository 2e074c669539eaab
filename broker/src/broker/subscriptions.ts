/**
 * event.subscribe / event.unsubscribe {"topic"} against one subscriber's list of
 * topic prefixes (a multiset: subscribe twice, unsubscribe twice), shared by the
 * local connector (clients) and the module host (modules).
 */
import { errno } from '../common/libflux/errno';
import { deriveErrorResponse, deriveResponse, getJson, type Message } from '../common/libflux/message';

/** Apply the request to `subs` and build its response (EPROTO bad payload, ENOENT not subscribed). */
export function applySubscription(subs: string[], req: Message): Message {
  let topic: unknown;
  try {
    topic = getJson<{ topic?: unknown }>(req).topic;
  } catch {
    topic = undefined;
  }
  if (typeof topic !== 'string') return deriveErrorResponse(req, errno.EPROTO);
  if (req.topic === 'event.subscribe') {
    subs.push(topic);
    return deriveResponse(req);
  }
  const i = subs.indexOf(topic);
  if (i < 0) return deriveErrorResponse(req, errno.ENOENT);
  subs.splice(i, 1);
  return deriveResponse(req);
}

/** Whether an event topic matches one of the prefixes. */
export function isSubscribed(subs: readonly string[], topic: string): boolean {
  return subs.some((p) => topic.startsWith(p));
}
