from services.kit.serve import serve
from services.gateway.app import DEFAULT_PORT, create_app

serve(create_app, DEFAULT_PORT, admin_port=True)
