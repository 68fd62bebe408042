import { Body, Controller, Header, Headers, HttpCode, Post, Query, Req } from '@nestjs/common';
import { ApiExtension, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { Public } from '../../auth/access.decorators';
import { ApiCommonErrors, ErrorView } from '../../common/error.view';
import { TwilioCallbacksService } from './twilio-callbacks.service';

export class CallStatusQuery {
  @ApiProperty({ format: 'uuid', description: 'The call delivery, as the service wrote it into the StatusCallback URL.' })
  @IsUUID()
  delivery!: string;
}

export class GatherQueryDto extends CallStatusQuery {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  user!: string;

  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  incident!: string;
}

const FORM =
  'application/x-www-form-urlencoded, as Twilio sends it; verified with X-Twilio-Signature (the auth token in notifications.twilio_auth_token_env, over server.public_url and the path). A forged, foreign-account or replayed request answers 401.';

/** Twilio calls these; no API key (Twilio cannot send one): each request proves itself with Twilio's signature. */
@ApiTags('integrations')
@ApiCommonErrors()
@Controller('v1/integrations/twilio')
export class TwilioCallbacksController {
  constructor(private readonly callbacks: TwilioCallbacksService) {}

  @Public()
  @ApiExtension('x-credential', 'header.x-twilio-signature')
  @Post('sms')
  @HttpCode(200)
  @Header('content-type', 'text/xml; charset=utf-8')
  @ApiOperation({ summary: "The Twilio number's incoming-message webhook: replies such as ACK 4821 or RES 4821", description: FORM })
  @ApiOkResponse({ description: 'TwiML: a text back saying what was done' })
  @ApiUnauthorizedResponse({ type: ErrorView, description: 'UNAUTHENTICATED: bad signature, another account, or a replay' })
  @ApiNotFoundResponse({ type: ErrorView, description: 'NOT_CONFIGURED: texts are off' })
  text(@Req() request: FastifyRequest, @Body() body: { raw?: string } | undefined, @Headers('x-twilio-signature') signature?: string): Promise<string> {
    return this.callbacks.textReceived(body?.raw, request.url, signature);
  }

  @Public()
  @ApiExtension('x-credential', 'header.x-twilio-signature')
  @Post('voice/gather')
  @HttpCode(200)
  @Header('content-type', 'text/xml; charset=utf-8')
  @ApiOperation({ summary: 'The key pressed during a call: 1 acknowledges, 2 escalates now', description: FORM })
  @ApiOkResponse({ description: 'TwiML: what the call says back' })
  @ApiUnauthorizedResponse({
    type: ErrorView,
    description: 'UNAUTHENTICATED: bad signature, another account, a call that is not the delivery named, or a replay',
  })
  @ApiNotFoundResponse({ type: ErrorView, description: 'NOT_CONFIGURED: calls are off' })
  gather(
    @Req() request: FastifyRequest,
    @Query() query: GatherQueryDto,
    @Body() body: { raw?: string } | undefined,
    @Headers('x-twilio-signature') signature?: string,
  ): Promise<string> {
    return this.callbacks.keyPressed(body?.raw, request.url, signature, query);
  }

  @Public()
  @ApiExtension('x-credential', 'header.x-twilio-signature')
  @Post('voice/status')
  @HttpCode(200)
  @Header('content-type', 'text/xml; charset=utf-8')
  @ApiOperation({ summary: "A call's status callback: answered, or no-answer / busy / failed (counted as a failed attempt)", description: FORM })
  @ApiOkResponse({ description: 'Empty TwiML' })
  @ApiUnauthorizedResponse({ type: ErrorView, description: 'UNAUTHENTICATED: bad signature, another account, or a replay' })
  @ApiNotFoundResponse({ type: ErrorView, description: 'NOT_CONFIGURED: calls are off' })
  status(
    @Req() request: FastifyRequest,
    @Query() query: CallStatusQuery,
    @Body() body: { raw?: string } | undefined,
    @Headers('x-twilio-signature') signature?: string,
  ): Promise<string> {
    return this.callbacks.callEnded(body?.raw, request.url, signature, query.delivery);
  }
}
