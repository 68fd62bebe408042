// The console's component tests: Vitest on the console's own Vite config, in jsdom. Jest runs the
// service's tests; it cannot load Preact 11, which ships ES modules only, without Node's
// experimental VM modules.
import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config.mts';

export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      include: ['test/**/*.test.{ts,tsx}'],
      environment: 'jsdom',
    },
  }),
);
