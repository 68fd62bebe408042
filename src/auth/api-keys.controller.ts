import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiCommonErrors, ApiJsonBodyErrors, ErrorView } from '../common/error.view';
import { ValidationFailed } from '../common/domain-error';
import { RequireScope } from './access.decorators';
import { ApiKeysService, ApiKeyView as ApiKeyViewModel } from './api-keys.service';
import { ApiKeyView, CreateApiKeyDto, CreatedApiKeyView } from './api-keys.dto';
import { RequestId } from '../common/request-id';
import { Caller, Principal } from './request-principal';

const KEY_ID = /^[0-9a-f]{16}$/;

@ApiTags('api-keys')
@ApiCommonErrors()
@RequireScope('admin')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiJsonBodyErrors()
  @ApiOperation({ summary: 'Create an API key; the answer is the only place its secret is shown' })
  @ApiCreatedResponse({ type: CreatedApiKeyView })
  async create(
    @Body() dto: CreateApiKeyDto,
    @Caller() caller: Principal | undefined,
    @RequestId() requestId: string | undefined,
  ): Promise<ApiKeyViewModel & { key: string }> {
    const { key, view } = await this.keys.create(dto, caller?.name ?? 'anonymous', requestId);
    return { ...view, key };
  }

  @Get()
  @ApiOperation({ summary: 'List API keys, without their secrets' })
  @ApiOkResponse({ type: [ApiKeyView] })
  list(): Promise<ApiKeyViewModel[]> {
    return this.keys.list();
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key: it stops working at once here, and within auth.key_cache_secs on other instances' })
  @ApiParam({ name: 'id', description: 'The id part of the key' })
  @ApiOkResponse({ type: ApiKeyView })
  @ApiNotFoundResponse({ type: ErrorView })
  revoke(@Param('id') id: string, @Caller() caller: Principal | undefined, @RequestId() requestId: string | undefined): Promise<ApiKeyViewModel> {
    if (!KEY_ID.test(id)) throw new ValidationFailed([{ field: 'id', message: 'id must be the 16 hex digits of a key id' }]);
    return this.keys.revoke(id, caller?.name ?? 'anonymous', requestId);
  }
}
