export * from './normal';
export * from './proportions';
export { lgamma, log1mexp, logBeta } from './special';
