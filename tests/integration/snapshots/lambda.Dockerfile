# Wheels only, fetched in a stage of their own: no package's build code ever runs.
FROM public.ecr.aws/lambda/python:3.12 AS wheels
COPY requirements.txt /wheels/requirements.txt
RUN pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: \
    -r /wheels/requirements.txt --dest /wheels

FROM public.ecr.aws/lambda/python:3.12
# Dependencies first, in a layer of their own: a new version with the same requirements
# takes it from the build cache, and the push sends only the code layers below.
# Installed with no network, from the wheels above only.
RUN --network=none --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --disable-pip-version-check --no-index --only-binary=:all: \
    --find-links /wheels -r /wheels/requirements.txt --target "${LAMBDA_TASK_ROOT}"

# Code: the feather runtime and its Lambda handler, then the model's bundle, which changes
# with every version. The SDK comes after the dependencies so it wins over any package
# that also calls itself feather.
COPY feather/ ${LAMBDA_TASK_ROOT}/feather/
COPY feather_lambda.py ${LAMBDA_TASK_ROOT}/
COPY app/ ${LAMBDA_TASK_ROOT}/app/

CMD ["feather_lambda.handler"]
