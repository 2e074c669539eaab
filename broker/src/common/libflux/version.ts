/** The flux-core release whose protocol, commands and output this implementation follows. */
export const FLUX_VERSION = '0.88.0';
