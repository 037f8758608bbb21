export * from './api-tokens';
export * from './credentials';
export * from './oidc';
export * from './plugin';
export * from './role-mapping';
export * from './roles';
export * from './sdk-keys';
export * from './secrets';
