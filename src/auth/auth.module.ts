import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccessGuard, AccessInterceptor } from './access.guard';
import { ApiKeyRepository } from './api-key.repository';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { KeyLimits } from './key-limits';
import { ConsoleSessionRepository } from './sessions/console-session.repository';
import { ConsoleSessionsController } from './sessions/console-sessions.controller';
import { ConsoleSessionsService } from './sessions/console-sessions.service';

/**
 * API keys, and access to every route and RPC. Global so that the gRPC controllers, which do not
 * inherit the HTTP app's global guard, can name AccessGuard and AccessInterceptor themselves.
 */
@Global()
@Module({
  controllers: [ApiKeysController, ConsoleSessionsController],
  providers: [
    ApiKeyRepository,
    ApiKeysService,
    ConsoleSessionRepository,
    ConsoleSessionsService,
    KeyLimits,
    AccessGuard,
    AccessInterceptor,
    { provide: APP_GUARD, useExisting: AccessGuard },
  ],
  exports: [ApiKeysService, ConsoleSessionsService, KeyLimits, AccessGuard, AccessInterceptor],
})
export class AuthModule {}
