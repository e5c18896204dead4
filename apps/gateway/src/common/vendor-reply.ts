import type { VendorResponse } from '@app/upstream';
import type { Response } from 'express';

/** Answers with the vendor's status and body, unchanged. */
export function relay(res: Response, answer: VendorResponse): unknown {
  res.status(answer.status);
  return answer.body;
}
