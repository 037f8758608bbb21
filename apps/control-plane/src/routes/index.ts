// Every route module of the control plane, registered in this order by buildApp.
// Each module default-exports `async function (app: FastifyInstance)`; add yours here.
import type { FastifyInstance } from 'fastify';
import adminCanaryRoutes from './admin-canary';
import adminEnvironmentRoutes from './admin-environments';
import adminExperimentRoutes from './admin-experiments';
import adminFlagRoutes from './admin-flags';
import adminImportRoutes from './admin-import';
import { adminKeysRoutes } from './admin-keys';
import healthRoutes from './health';
import sdkRoutes from './sdk';
import sdkExperimentRoutes from './sdk-experiments';

export const routeModules: ((app: FastifyInstance) => Promise<void>)[] = [
  healthRoutes,
  adminFlagRoutes,
  adminImportRoutes,
  adminCanaryRoutes,
  adminEnvironmentRoutes,
  adminKeysRoutes,
  sdkRoutes,
  adminExperimentRoutes,
  sdkExperimentRoutes,
];
