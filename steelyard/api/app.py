"""The API application: the tenant API (Octavia v2 compatible, plus Steelyard's network
extension) and the operator API (/v2/operator, admins only)."""

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.deps import AUTHORIZED, Deps
from steelyard.api.errors import RequestIdMiddleware, install_error_handlers
from steelyard.api.metrics import RequestCounter
from steelyard.api.metrics import router as metrics_router
from steelyard.api.octavia.amphorae import router as amphorae_router
from steelyard.api.openapi import install_openapi
from steelyard.api.operator import router as operator_router
from steelyard.api.policy_routes import route_rules
from steelyard.api.services import Services
from steelyard.api.settings import ApiSettings
from steelyard.api.steelyard.keystone import router as keystone_router
from steelyard.api.steelyard.neutron import router as neutron_router
from steelyard.api.steelyard.secrets import router as secrets_router
from steelyard.api.v2 import router as v2_router
from steelyard.api.versions import router as versions_router


def create_app(
    settings: ApiSettings,
    sessions: sessionmaker[Session],
    notify: Callable[[str], None],
    read_sessions: sessionmaker[Session] | None = None,
    services: Services | None = None,
) -> FastAPI:
    """`notify(lb_id)` is called after every committed write that bumped that load balancer's
    desired_generation; `services` are what the operator API reaches beyond the database."""
    # Every route is authorized in one place, by the policy rule of its endpoint.
    app = FastAPI(
        title="Steelyard", version="2.0", redirect_slashes=False, dependencies=[AUTHORIZED]
    )
    # Reads never wait for writers when given their own (deferred) sessions.
    app.state.deps = Deps(settings, sessions, notify, read_sessions or sessions)
    app.state.services = services or Services()
    if app.state.services.control_metrics is not None:
        app.add_middleware(RequestCounter, control=app.state.services.control_metrics)
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(versions_router)
    # openstacksdk uses /v2/lbaas/..., the openstack CLI /v2.0/lbaas/...
    app.include_router(v2_router, prefix="/v2")
    app.include_router(v2_router, prefix="/v2.0", include_in_schema=False)
    for prefix in ("/v2", "/v2.0"):
        app.include_router(neutron_router, prefix=prefix)
    app.include_router(keystone_router)  # the CLI looks projects up at the endpoint's root
    app.include_router(operator_router, prefix="/v2")
    app.include_router(secrets_router, prefix="/v2")  # issue 6: the TLS secret store
    app.include_router(amphorae_router, prefix="/v2")
    app.include_router(metrics_router)
    app.state.route_rules = route_rules(app.routes, settings.policy)
    install_openapi(app)
    return app
