export * from './sketch';
export * from './window';
