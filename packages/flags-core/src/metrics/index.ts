export * from './sketch';
export * from './window';
export * from './units';
