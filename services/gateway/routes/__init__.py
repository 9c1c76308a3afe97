"""The gateway's public routes, one module per resource."""
from fastapi import APIRouter

from services.gateway.routes import accounts, admin, arena, files, identity, models, runs, webhooks

router = APIRouter()
router.include_router(models.router)
router.include_router(runs.router)
router.include_router(files.router)
router.include_router(identity.router)
router.include_router(accounts.router)
router.include_router(admin.router)
router.include_router(arena.router)
router.include_router(webhooks.router)
