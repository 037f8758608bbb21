// @rupaya/flags-core — pure, zero-dependency evaluation core. No I/O, no timers, no clock.
export * from './snapshot/types';
export * from './metrics/types';
export * from './hash/index';
export * from './snapshot/index';
export * from './evaluate/index';
export * from './canary/index';
export * from './metrics/index';
export * from './stats/index';
export * from './flags-file/index';
