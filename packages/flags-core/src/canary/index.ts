export * from './decide';
export * from './policy';
