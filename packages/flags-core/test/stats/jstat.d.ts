// jStat ships no types; the oracle tests use a few functions of it.
declare module 'jstat' {
  // biome-ignore lint/suspicious/noExplicitAny: untyped oracle library
  export const jStat: any;
}
