import type { FastifyInstance } from 'fastify';
import type { MetricsService } from './metrics.service';

/** Counts every answer by the route pattern it matched (never the raw path: ids would explode the labels). */
export function countAnswers(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (req, reply, done) => {
    metrics.requests.inc({
      route: req.routeOptions.url ?? 'unmatched',
      method: req.method,
      status: String(reply.statusCode),
    });
    done();
  });
}
