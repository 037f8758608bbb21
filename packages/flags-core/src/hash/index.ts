export * from './murmur3';
export * from './bucket';
