# syntax=docker/dockerfile:1.7
# The base of a model's AWS Lambda image: the feather runtime and its Lambda handler, laid out as
# the builder lays out every model image (services/builder/lambda_image.py: render_dockerfile)
# and with the same entry point, so either can stand for the other. A model adds its wheels to
# ${LAMBDA_TASK_ROOT} and its bundle under ${LAMBDA_TASK_ROOT}/app/.
# Built from the repository root: docker build -f deploy/docker/lambda-model.Dockerfile .
#
# Handy to try the handler before any deployment: the AWS base image carries the runtime
# interface emulator, so
#   docker run --rm -p 9000:8080 -v "$PWD/examples/<model>:/var/task/app:ro" feather-lambda-model:<tag>
#   curl -d '{"run_id": "r1", "step": "predict", "inputs": {...}}' \
#     http://localhost:9000/2015-03-31/functions/function/invocations
ARG PYTHON_VERSION=3.11
FROM public.ecr.aws/lambda/python:${PYTHON_VERSION}
COPY sdk/feather/ ${LAMBDA_TASK_ROOT}/feather/
COPY services/builder/templates/feather_lambda.py ${LAMBDA_TASK_ROOT}/
CMD ["feather_lambda.handler"]
