"""Every error citechat reports to a user. Each message says what went wrong and what to do; the command line
prints it as one line (exit 2), the web app shows it in the conversation."""

from __future__ import annotations

EXIT_USAGE = 2  # the exit code of every CitechatError on the command line (cli._run)


class CitechatError(Exception):
    """Base of the errors a user can act on."""


def error_record(error: BaseException, **context: object) -> dict[str, object]:
    """The one JSON shape of an error (`ask --json`, `ask --jsonl`, the /chat API): `error` is the message a
    user reads, `kind` the error's class; `context` adds what it was about (id, question, line)."""
    return {**context, "error": str(error), "kind": type(error).__name__}


class UsageError(CitechatError, ValueError):
    """A command was given something it can't use (a missing file, clashing options); the message says what to
    give instead. The command line prints it as one line and exits 2, like every CitechatError."""


class HistoryError(CitechatError, LookupError):
    """A conversation id that is malformed or does not belong to this owner (the two are not told apart), or a
    turn that is already stored."""


class SettingsError(CitechatError, ValueError):
    """A setting is unknown or has a bad value; the message names the environment variable."""


class LoadError(CitechatError):
    """A file that cannot be read as an article."""


class UploadError(CitechatError, ValueError):
    """An upload was refused; nothing was changed."""


class QuestionError(CitechatError, ValueError):
    """The question itself is unusable (empty, too long)."""


class PromptError(CitechatError, ValueError):
    """A prompt file is missing or has the wrong placeholders."""


class IndexProblem(CitechatError, RuntimeError):
    """The index is missing, corrupt or incompatible. The message names the folder and the fix."""


class IndexOutdated(IndexProblem):
    """The index was built by another citechat version or with another embedder; a rebuild fixes it."""


class ModelLoadError(CitechatError, RuntimeError):
    """A model could not be loaded; the message says which and what to do."""


class FilterError(CitechatError, ValueError):
    """An article filter is malformed (a bad date) or leaves no article to answer from."""


class StoreUnavailable(CitechatError, RuntimeError):
    """The index server (or folder) does not answer right now; questions work again once it is back."""

    def __init__(self, location: str, remote: bool = True) -> None:
        self.location = location
        if remote:
            msg = (f"The index server at {location} is not answering; questions will work again once it is back "
                   "(start it with `chroma run`, or check CITECHAT_CHROMA_URL).")
        else:
            msg = (f"The index folder {location} can't be read right now; questions will work again once it is "
                   "back (check that the disk is mounted and readable).")
        super().__init__(msg)


class IndexFull(CitechatError, RuntimeError):
    """The index folder's disk (or quota) is full. Nothing half-written stays visible: complete articles are kept,
    and the next ingest with enough space finishes the rest."""

    def __init__(self, location: str, reason: str = "No space left on device") -> None:
        self.location = location
        super().__init__(f"The index folder {location} is full ({reason}): free some space, then run "
                         "`citechat ingest` again; articles already indexed are kept.")
