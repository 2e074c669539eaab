/**
 * Jobspec (RFC 14 canonical, RFC 25 version 1): one module shared by
 * job-ingest, the CLI, sched-simple and the jobspec language server.
 *
 *   validateJobspec(doc)        every problem, with its path; errors[0] is job-ingest's answer
 *   checkJobspec(doc)           throw FluxError(1, flux-core's message) unless valid
 *   parseJobspecText(text)      JSON text to a document, job-ingest's parse error on bad JSON
 *   jjGetCounts(doc)            sched-simple's slot/core/gpu/node counts (libjob jj.c)
 *   jobspecFromCommandLine(o)   what `flux run --dry-run` builds and prints
 */
import { errno, FluxError } from '../libflux/errno';
import { JsonValue, parseJson, stringifyJson } from './json';

export * from './jobspec-validate';
export * from './jobspec-jj';
export * from './jobspec-cli';

/**
 * Parse a jobspec as job-ingest does (JSON only; YAML is the editor's
 * business). Bad JSON is EINVAL with job-ingest's prefix "jobspec: invalid JSON: ".
 * Integers past 2^53 stay exact (bigint).
 */
export function parseJobspecText(text: string): JsonValue {
  try {
    return parseJson(text);
  } catch (err) {
    throw new FluxError(errno.EINVAL, `jobspec: invalid JSON: ${(err as Error).message}`);
  }
}

/** A jobspec as flux-core's Python tools print it (`flux job info ID jobspec`, `--dry-run`). */
export function formatJobspec(doc: unknown): string {
  return stringifyJson(doc, { layout: 'python' });
}
