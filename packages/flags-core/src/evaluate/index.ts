export * from './evaluator';
export * from './rollout';
export * from './rules';
export * from './semver';
export * from './time';
export * from './variants';
export { compileFlag, type CompiledFlag, type RolloutGate, unitKeyOf } from './compile';
export { eventUnitKeys, experimentUnitAttributes } from './event-units';
