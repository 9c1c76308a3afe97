from services.kit.serve import serve
from services.builder.app import DEFAULT_PORT, create_app

serve(create_app, DEFAULT_PORT)
