// Every route module of the control plane, registered in this order by buildApp.
// Each module default-exports `async function (app: FastifyInstance)`; add yours here.
import type { FastifyInstance } from 'fastify';
import adminCanaryRoutes from './admin-canary';
import adminEnvironmentRoutes from './admin-environments';
import adminExperimentRoutes from './admin-experiments';
import adminFlagRoutes from './admin-flags';
import adminImportRoutes from './admin-import';
import { adminKeysRoutes } from './admin-keys';
import adminMetricsRoutes from './admin-metrics';
import adminWebhookRoutes from './admin-webhooks';
import healthRoutes from './health';
import sdkRoutes from './sdk';
import sdkMetricsRoutes from './sdk-metrics';
import { canaryAutomationPlugin } from '../services/canary-automation';
import sdkExperimentRoutes from './sdk-experiments';

export const routeModules: ((app: FastifyInstance) => Promise<void>)[] = [
  // Root scope (fastify-plugin), first: decorates the scheduler and /health's providers.
  canaryAutomationPlugin,
  healthRoutes,
  adminFlagRoutes,
  adminImportRoutes,
  adminCanaryRoutes,
  adminEnvironmentRoutes,
  adminKeysRoutes,
  sdkRoutes,
  sdkMetricsRoutes,
  adminMetricsRoutes,
  adminWebhookRoutes,
  adminExperimentRoutes,
  sdkExperimentRoutes,
];
