export * from './validate';
export * from './normalize';
export * from './canonical';
export * from './schema';
export * from './covers';
export * from './etag';
