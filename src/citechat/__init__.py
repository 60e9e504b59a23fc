"""citechat: answers about news articles, every claim cited to the sentence that supports it."""

__version__ = "0.1.0"
