export * from './decide';
export * from './policy';
export * from './transition';
export * from './traffic';
