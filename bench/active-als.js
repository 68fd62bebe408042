'use strict';
/**
 * Preloaded into the service (`node -r bench/active-als.js dist/main.js`) by bench/logging-cost.js
 * to price request-scoped logging through an AsyncLocalStorage, as nestjs-pino does it: on
 * Node 20 an AsyncLocalStorage in use installs an init hook on every async resource, promises
 * included, for the rest of the process, whatever store it holds. The store entered here is
 * inherited by every resource created afterwards, so the hook does its full work on each one.
 */
const { AsyncLocalStorage } = require('node:async_hooks');

new AsyncLocalStorage().enterWith({ request_id: 'bench' });
