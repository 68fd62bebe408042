import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../config/config.schema';

/** Where `npm run build:console` puts the console (console/vite.config.mts). */
export const CONSOLE_DIST = join(__dirname, '..', '..', 'console', 'dist');

/** The console's pages: each answers its index.html, and the browser-side router shows the page. */
const PAGES = ['/', '/incidents/:id', '/on-call', '/people', '/schedules/:id', '/silences', '/notifications', '/keys'];

/**
 * The web console at /, served by the service itself: its pages and its hashed, immutable
 * assets. They hold no data (everything comes from the API with the session cookie), so they
 * need no key. With [console] enabled = false nothing is served.
 */
export async function serveConsole(app: NestFastifyApplication, config: AppConfig, dist = CONSOLE_DIST): Promise<void> {
  if (!config.console.enabled) return;
  const fastify = app.getHttpAdapter().getInstance();
  const indexPath = join(dist, 'index.html');
  const index = existsSync(indexPath) ? readFileSync(indexPath) : undefined;
  for (const url of PAGES) {
    fastify.get(url, (_request, reply) => {
      if (!index) {
        return reply
          .status(503)
          .header('content-type', 'application/json; charset=utf-8')
          .send({
            error: { code: 'NOT_CONFIGURED', message: 'the console is not built: run npm run build:console (npm start does it)', status: 503, details: {} },
          });
      }
      return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
    });
  }
  if (existsSync(join(dist, 'assets'))) {
    await app.register(fastifyStatic, {
      root: join(dist, 'assets'),
      prefix: '/assets/',
      immutable: true,
      maxAge: '365d',
      decorateReply: false,
      index: false,
      preCompressed: true,
    });
  }
}
