// Wires the metrics area into the app (root scope): the scheduler (leader election, decisions), the
// webhook deliverer and retention on the leader, and the /health providers.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { HealthProviders } from '../routes/health';
import { CanaryScheduler } from './canary-scheduler';
import { deploymentSummary, flagUsageTotals } from './metrics-queries';
import { rollupAndPrune } from './metrics-retention';
import { loadMetricsSettings, type MetricsSettings } from './metrics-settings';
import { WebhookDeliverer } from './webhooks';

declare module 'fastify' {
  interface FastifyInstance {
    metricsSettings: MetricsSettings;
    canaryScheduler: CanaryScheduler;
    webhookDeliverer: WebhookDeliverer;
  }
}

async function canaryAutomation(app: FastifyInstance): Promise<void> {
  const settings = loadMetricsSettings(app.config);
  const scheduler = new CanaryScheduler({
    database: app.database,
    config: app.config,
    settings,
    events: app.events,
    log: app.log,
    refreshSnapshot: (env) => app.snapshots.refresh(env),
  });
  const deliverer = new WebhookDeliverer(app.db, settings, app.log);
  app.decorate('metricsSettings', settings);
  app.decorate('canaryScheduler', scheduler);
  app.decorate('webhookDeliverer', deliverer);

  let lastRollup = 0;
  scheduler.leaderTasks.push(async (now) => {
    if (now - lastRollup < settings.rollupIntervalMs) return;
    lastRollup = now;
    await rollupAndPrune(app.db, settings, now);
  });

  if (!app.hasDecorator('healthProviders')) app.decorate('healthProviders', {} as HealthProviders);
  app.healthProviders.deployment = () => deploymentSummary(app.db, app.config, Date.now());
  app.healthProviders.featureFlags = () => flagUsageTotals(app.db);

  let deliveryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const deliverLoop = () => {
    if (stopped) return;
    deliveryTimer = setTimeout(async () => {
      if (scheduler.isLeader) {
        await deliverer.tick().catch((err) => app.log.warn({ err }, 'webhook delivery failed'));
      }
      deliverLoop();
    }, settings.webhookPollMs);
    deliveryTimer.unref();
  };

  app.addHook('onReady', async () => {
    if (!settings.schedulerEnabled) return;
    await scheduler.start();
    deliverLoop();
  });
  app.addHook('preClose', async () => {
    stopped = true;
    if (deliveryTimer) clearTimeout(deliveryTimer);
    await scheduler.stop();
    // Attempts in flight end within the webhook timeout and record their outcome before the
    // database closes.
    await deliverer.stop();
  });
}

export const canaryAutomationPlugin = fp(canaryAutomation, { name: 'rupaya-canary-automation' });
