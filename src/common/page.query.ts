import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ToInt } from './validators';

/** `page`, from 1: what every paged query has. */
class PageNumberQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1_000_000, default: 1 })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page?: number;
}

/** `page` and `page_size` of a paged list: the query a paged route extends. */
export class PageQuery extends PageNumberQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(500)
  page_size?: number;
}

export const MAX_HISTORY_PAGE_SIZE = 1000;

/**
 * A page of an incident's history (its alerts, its timeline), oldest first: a flapping alert
 * folds thousands into one incident, and all of them at once held the event loop 200 ms.
 * The whole count is in the X-Total-Count header.
 */
export class HistoryPageQuery extends PageNumberQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_HISTORY_PAGE_SIZE, default: MAX_HISTORY_PAGE_SIZE })
  @IsOptional()
  @ToInt()
  @IsInt()
  @Min(1)
  @Max(MAX_HISTORY_PAGE_SIZE)
  page_size?: number;
}

/** The rows of a history page and how many there are in all. */
export interface HistoryPage<T> {
  items: T[];
  total: number;
}

export function historyWindow(query: HistoryPageQuery): { limit: number; offset: number } {
  const limit = query.page_size ?? MAX_HISTORY_PAGE_SIZE;
  return { limit, offset: ((query.page ?? 1) - 1) * limit };
}
