# Mirrors the Makefile's install steps: venv, editable-free install, model assembly, serve.
FROM python:3.11-slim

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CMAKE_BUILD_PARALLEL_LEVEL=2 \
    CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
    CXXFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
    HF_HUB_OFFLINE=1 \
    ASSISTANT_DATA_DIR=/data \
    ASSISTANT_MODELS_CACHE_DIR=/models \
    ASSISTANT_AUTH_REQUIRED=true

# Build tools for llama-cpp-python (compiled from its sdist), ffmpeg for PyAV-decoded formats.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY evals ./evals
COPY prompts ./prompts
# CPU torch (the embedding model needs it); the default PyPI wheel would be a multi-GB CUDA build.
RUN python -m venv /venv && /venv/bin/pip install --upgrade pip \
    && /venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu .
ENV PATH=/venv/bin:$PATH
RUN assistant models --verify

VOLUME ["/data"]
EXPOSE 8000
CMD ["assistant", "serve", "--host", "0.0.0.0", "--port", "8000"]
