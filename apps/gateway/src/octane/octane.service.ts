import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { OctaneClient, OctaneListQuery, VendorResponse } from '@app/upstream';
import { TeamScopeService } from '../access/team-scope.service';
import type { CreateApiAccessRequestDto } from './dto/create-api-access.request.dto';
import type { UpdateApiAccessRequestDto } from './dto/update-api-access.request.dto';

/** The Octane side of Keygate: who may use which shared space, then the vendor call. */
@Injectable()
export class OctaneService {
  constructor(
    private readonly client: OctaneClient,
    private readonly scope: TeamScopeService,
  ) {}

  listRoles(caller: Caller, spaceId: string, query: OctaneListQuery): Promise<VendorResponse> {
    this.scope.assertOctaneSharedSpace(caller, spaceId);
    return this.client.listRoles(spaceId, { ...query });
  }

  listWorkspaceRoles(
    caller: Caller,
    spaceId: string,
    query: OctaneListQuery,
  ): Promise<VendorResponse> {
    this.scope.assertOctaneSharedSpace(caller, spaceId);
    return this.client.listWorkspaceRoles(spaceId, { ...query });
  }

  listApiAccesses(
    caller: Caller,
    spaceId: string,
    query: OctaneListQuery,
  ): Promise<VendorResponse> {
    this.scope.assertOctaneSharedSpace(caller, spaceId);
    return this.client.listApiAccesses(spaceId, { ...query });
  }

  getApiAccess(
    caller: Caller,
    spaceId: string,
    id: string,
    fields?: string,
  ): Promise<VendorResponse> {
    this.scope.assertOctaneSharedSpace(caller, spaceId);
    return this.client.getApiAccess(spaceId, id, fields);
  }

  createApiAccess(
    caller: Caller,
    spaceId: string,
    body: CreateApiAccessRequestDto,
    fields?: string,
  ): Promise<VendorResponse> {
    this.scope.assertOctaneSharedSpace(caller, spaceId);
    return this.client.createApiAccess(spaceId, body, fields);
  }

  updateApiAccess(
    caller: Caller,
    spaceId: string,
    id: string,
    body: UpdateApiAccessRequestDto,
    fields?: string,
  ): Promise<VendorResponse> {
    this.scope.assertOctaneSharedSpace(caller, spaceId);
    return this.client.updateApiAccess(spaceId, id, { ...body }, fields);
  }
}
