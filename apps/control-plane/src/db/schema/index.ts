// Every table of the control plane; drizzle-kit generates migrations from this module.
// One file per area: add `export * from './<area>';` for each new schema file.
export * from './core';
export * from './auth';
export * from './experiments';
export * from './metrics';
