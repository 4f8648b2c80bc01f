"""The data catalog over HTTP: departments, search, one dataset, its versions and a version's
report. Thin: parse, call backend.datasets.search, answer (shapes: the issue's published API)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from backend.api.deps import AppState
from backend.api.responses import PRIVATE, JSONBytes
from backend.api.route import GuardedRoute
from backend.auth.permissions import Caller, Permission, Principal, requires
from backend.datasets import search as svc
from backend.datasets.dcat import catalog_graph
from backend.errors import Forbidden

router = APIRouter(route_class=GuardedRoute, tags=["catalog"])
READ = [requires(Permission.CATALOG_READ)]
Code = Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z0-9]+$")]


def may_steward(principal: Principal | None, department: str) -> bool:
    """The data bureau (govern) for every department; a steward for their own."""
    if principal is None:
        return False
    if principal.may(Permission.DATASETS_GOVERN):
        return True
    return principal.may(Permission.DATASETS_STEWARD) and principal.department == department


@router.get("/api/catalog/departments", dependencies=READ)
def list_departments(state: AppState) -> JSONBytes:
    with state.engine.connect() as conn:
        return JSONBytes(svc.department_list(conn), headers=PRIVATE)


@router.get("/api/datasets", dependencies=READ)
def search_datasets(
    state: AppState,
    q: Annotated[str | None, Query(max_length=svc.MAX_Q)] = None,
    department: Code = None,
    class_code: Annotated[str | None, Query(max_length=9, pattern=r"^[0-9]+$")] = None,
    share_type: Literal["unconditional", "conditional", "none"] | None = None,
    update_cycle: Literal["realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly",
                          "yearly", "irregular"] | None = None,
    has_layer: bool | None = None,
    storage: Literal["rows", "layer", "metadata"] | None = None,
    limit: Annotated[int, Query(ge=1, le=svc.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONBytes:
    """Search in Chinese (substring and trigram) with filters; `{total, items}`."""
    f = svc.Filters(q=q, department=department, class_code=class_code, share_type=share_type,
                    update_cycle=update_cycle, has_layer=has_layer, storage=storage)
    with state.engine.connect() as conn:
        total, items = svc.search(conn, f, limit=limit, offset=offset)
    return JSONBytes({"total": total, "items": items}, headers=PRIVATE)




@router.get("/api/datasets/{dataset_id}", dependencies=READ)
def get_dataset(dataset_id: str, state: AppState) -> JSONBytes:
    with state.engine.connect() as conn:
        return JSONBytes(svc.get_dataset(conn, dataset_id), headers=PRIVATE)


@router.get("/api/datasets/{dataset_id}/versions", dependencies=READ)
def list_versions(dataset_id: str, state: AppState) -> JSONBytes:
    with state.engine.connect() as conn:
        return JSONBytes(svc.versions(conn, dataset_id), headers=PRIVATE)


# Declared catalog:read (every reader reaches it); the report names rejected rows, so the body
# admits only the department's steward or the data bureau (may_steward): one check, here.
@router.get("/api/datasets/{dataset_id}/versions/{version_id}", dependencies=READ)
def get_version(dataset_id: str, version_id: Annotated[int, Path(ge=1, le=2**62)], state: AppState,
                principal: Caller) -> JSONBytes:
    with state.engine.connect() as conn:
        department = svc.dataset_department(conn, dataset_id)
        # 404 first: that a version exists is no secret (GET .../versions lists them all)
        found = svc.version(conn, dataset_id, version_id)
    if not may_steward(principal, department):
        raise Forbidden(f"Only the stewards of {department} or the data bureau may read "
                        "a version's report")
    return JSONBytes(found, headers=PRIVATE)


# PUBLIC by design: the export holds the open datasets only (open_type 'open').
@router.get("/api/catalog/dcat.jsonld", dependencies=[requires(Permission.PUBLIC)],
            response_class=Response,
            responses={200: {"content": {"application/ld+json": {}},
                             "description": "DCAT-AP in JSON-LD"}})
def dcat_jsonld(request: Request, state: AppState) -> Response:
    """The open catalog as DCAT-AP in JSON-LD."""
    with state.engine.connect() as conn:
        graph = catalog_graph(conn, state.base_url(request))
    return Response(graph.serialize(format="json-ld", auto_compact=True),
                    media_type="application/ld+json")


@router.get("/api/catalog/dcat.ttl", dependencies=[requires(Permission.PUBLIC)],
            response_class=Response,
            responses={200: {"content": {"text/turtle": {}}, "description": "DCAT-AP in Turtle"}})
def dcat_turtle(request: Request, state: AppState) -> Response:
    """The open catalog as DCAT-AP in Turtle."""
    with state.engine.connect() as conn:
        graph = catalog_graph(conn, state.base_url(request))
    return Response(graph.serialize(format="turtle"), media_type="text/turtle; charset=utf-8")
