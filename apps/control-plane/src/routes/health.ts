// GET /health (no auth): storage, deployment and flag-usage summary. Deployment numbers and flag
// usage come from providers the metrics area registers on `app.healthProviders`; zeros until then.
import type { FastifyInstance } from 'fastify';
import { healthResponse, responses } from './responses';

export interface DeploymentHealth {
  status: 'healthy' | 'degraded' | 'rolling_back';
  /** Percent. */
  errorRate: number;
  /** ms. */
  p99ResponseTime: number;
}

export interface FlagUsage {
  checksTotal: number;
  checksPerFlag: Record<string, number>;
}

export interface HealthProviders {
  deployment?: () => Promise<Partial<DeploymentHealth>>;
  featureFlags?: () => Promise<FlagUsage>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by other areas (metrics) to fill /health. */
    healthProviders: HealthProviders;
  }
}

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  if (!app.hasDecorator('healthProviders')) app.decorate('healthProviders', {} as HealthProviders);

  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Service health (no auth)',
        security: [],
        response: responses({ 200: healthResponse }, 'INTERNAL'),
      },
    },
    async (_request, reply) => {
      const storageOk = app.storage.available;
      let activeCanaries = 0;
      const snapshots: Record<string, number> = {};
      for (const env of app.snapshots.environments()) {
        const b = app.snapshots.get(env);
        if (!b) continue;
        snapshots[env] = b.revision;
        activeCanaries += b.activeCanaries;
      }
      const deployment: DeploymentHealth = { status: 'healthy', errorRate: 0, p99ResponseTime: 0 };
      let featureFlags: FlagUsage = { checksTotal: 0, checksPerFlag: {} };
      const providers = app.healthProviders;
      try {
        if (providers.deployment) Object.assign(deployment, await providers.deployment());
        if (providers.featureFlags) featureFlags = await providers.featureFlags();
      } catch (err) {
        app.log.warn({ err }, 'health provider failed');
      }
      if (!storageOk && deployment.status === 'healthy') deployment.status = 'degraded';
      const status = storageOk && deployment.status === 'healthy' ? 'OK' : 'DEGRADED';
      if (!storageOk) reply.header('x-rupaya-stale', 'true');
      return {
        status,
        database: storageOk ? 'ok' : 'unavailable',
        storage: app.database.kind,
        deployment: { ...deployment, activeCanaries },
        featureFlags,
        snapshots,
      };
    },
  );
}
