import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiExtension,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IsBoolean, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../../common/error.view';
import { AuthenticationFailed } from '../api-keys.service';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import { SCOPES } from '../api-key-format';
import { Public } from '../access.decorators';
import { ConsoleSessionsService, SessionView } from './console-sessions.service';
import { clearedSessionCookie, sessionCookie, sessionTokenOf } from './session-cookie';

export class SignInDto {
  @ApiProperty({ description: 'An API key (lim_<id>_<secret>); exchanged for a session cookie and not kept by the browser' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  api_key!: string;

  @ApiPropertyOptional({
    description: 'Keep me signed in on this device: the session lasts [console] remember_ttl_secs (30 days), never past the key’s expiry',
  })
  @IsOptional()
  @IsBoolean()
  remember?: boolean;
}

export class SessionViewDto {
  @ApiProperty({ enum: ['session', 'off'], description: 'off: authentication is switched off ([auth] enabled = false), no sign-in needed' })
  authentication!: 'session' | 'off';
  @ApiProperty() key_id!: string;
  @ApiProperty() key_name!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The user the key belongs to: who is signed in' }) user_name!: string | null;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
  @ApiProperty({ description: 'Send it in the x-csrf-token header of every write made with the session cookie' }) csrf_token!: string;
}

/**
 * The console's sign-in. These routes authenticate on their own (an API key in the body, or the
 * session cookie), so the guard lets them through; every other route sees the session through it.
 */
@ApiTags('console session')
@ApiCommonErrors()
@Public()
@ApiExtension('x-required-scope', 'none (the API key in the body, or the session cookie)')
@ApiExtension('x-credential', 'session')
@Controller('v1/session')
export class ConsoleSessionsController {
  constructor(
    private readonly sessions: ConsoleSessionsService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Sign in: exchange an API key for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS)' })
  @ApiCreatedResponse({ type: SessionViewDto })
  @ApiUnauthorizedResponse({ type: ErrorView })
  @ApiForbiddenResponse({ type: ErrorView, description: 'authentication is off ([auth] enabled = false): there is nothing to sign in to' })
  async signIn(@Body() dto: SignInDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<SessionView & { authentication: 'session' }> {
    const { token, view, maxAgeSecs } = await this.sessions.signIn(dto.api_key, dto.remember === true);
    void reply.header('set-cookie', sessionCookie(this.config, token, maxAgeSecs)).header('cache-control', 'no-store');
    return { authentication: 'session', ...view };
  }

  @Get()
  @ApiOperation({ summary: 'The current session: its key, scopes, expiry and CSRF token' })
  @ApiOkResponse({ type: SessionViewDto })
  @ApiUnauthorizedResponse({ type: ErrorView, description: 'no session cookie, or one that has expired or was signed out' })
  async current(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<SessionViewDto> {
    void reply.header('cache-control', 'no-store');
    if (!this.config.auth.enabled) {
      const now = new Date().toISOString();
      return {
        authentication: 'off',
        key_id: '',
        key_name: 'anonymous',
        user_name: null,
        scopes: [...SCOPES],
        created_at: now,
        expires_at: now,
        csrf_token: '',
      };
    }
    const token = sessionTokenOf(this.config, request.headers.cookie);
    if (!token) throw new AuthenticationFailed('missing');
    try {
      const view = await this.sessions.describe(token);
      return { authentication: 'session', ...view, scopes: [...view.scopes] };
    } catch (err) {
      if (err instanceof AuthenticationFailed) void reply.header('set-cookie', clearedSessionCookie(this.config));
      throw err;
    }
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: the session ends on the server and its cookie is cleared (needs x-csrf-token)' })
  @ApiNoContentResponse()
  @ApiUnauthorizedResponse({ type: ErrorView, description: 'no session cookie' })
  @ApiForbiddenResponse({ type: ErrorView, description: 'CSRF_REJECTED: a live session without its x-csrf-token' })
  async signOut(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const token = sessionTokenOf(this.config, request.headers.cookie);
    if (!token) throw new AuthenticationFailed('missing');
    // A session that is already over is simply cleared; a live one must prove the write is the console's.
    try {
      await this.sessions.authenticate(token, 'DELETE', request.headers['x-csrf-token']);
    } catch (err) {
      if (!(err instanceof AuthenticationFailed)) throw err;
    }
    await this.sessions.signOut(token);
    void reply.header('set-cookie', clearedSessionCookie(this.config));
  }
}
