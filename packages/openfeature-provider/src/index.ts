export { RupayaProvider, type RupayaProviderOptions } from './provider';
export { mapReason, toRupayaContext } from './mapping';
