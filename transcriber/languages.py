"""Which languages and tasks a model takes, asked of the model itself, and the prompt arguments that ask for them.

A table of model names would go stale and would say nothing about a ``.nemo`` file a user trained; the model knows:

* **Canary** (``EncDecMultiTaskModel``): its prompt format (``canary`` or ``canary2``), the slots of its user turn
  (``model.prompt.get_slots("user")``) and the languages of its aggregate tokenizer. ``canary`` translates with
  ``task="ast"`` when it has the ``<|translate|>`` token; ``canary2`` has no task slot and translates whenever the
  target language differs from the source.
* **Prompt transducers** (``EncDecRNNTBPEModelWithPrompt``, ``EncDecHybridRNNTCTCBPEModelWithPrompt``): the keys
  of ``model_defaults.prompt_dictionary`` (``"de-DE"``, ...), passed as ``target_lang=``; they do not translate.
  NeMo's default ``target_lang="auto"`` fails on a dictionary without that key, so with no language chosen the
  first one is asked for, as with Canary.
* **Every other model** (CTC, RNNT, TDT, hybrid: parakeet and the like) takes no language: passing one makes NeMo
  raise ``TypeError``, so it is refused here first, with a sentence that names the model.

NeMo ignores slot names it does not know and fails on a language it has no token for with a bare ``KeyError``, so
every request is checked against what the model accepts before ``transcribe()`` is called. Slot values are strings
(``pnc="yes"``), as NeMo's slot types require.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .errors import TranscriberError

logger = logging.getLogger(__name__)

SPECIAL_TOKENS_LANGUAGE = "spl_tokens"
"""The aggregate tokenizer's entry for special tokens, not a language."""
TRANSLATE_TOKEN = "<|translate|>"
CANARY = "canary"
AUTO_PROMPT = "auto"
"""The prompt dictionary key of a transducer that detects the language itself (NeMo's default ``target_lang``)."""
LANGUAGE_PROMPT = "language prompt"
"""The prompt style of transducers conditioned on a language id (``target_lang=`` only)."""


LANGUAGE_NAMES = {
    "ar": "Arabic", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic",
    "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "ko": "Korean", "lt": "Lithuanian",
    "lv": "Latvian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "nb": "Norwegian", "nl": "Dutch",
    "nn": "Norwegian Nynorsk", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "ta": "Tamil",
    "te": "Telugu", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "zh": "Chinese",
}
"""English names of ISO 639-1 language codes, for people choosing among a model's codes (a 25-language model's
"sl", "sk", "lv" and "lt" say little to most)."""


def language_label(code: str) -> str:
    """How a page names a model's language code: ``"German (de)"``, ``"English (en-US)"``; a code it has no name
    for as it is."""
    name = LANGUAGE_NAMES.get(code.replace("_", "-").split("-")[0].lower())
    return f"{name} ({code})" if name else code


class LanguageOptionsError(TranscriberError):
    """A language or translation asked of a model that cannot do it."""


@dataclass(frozen=True)
class Abilities:
    """What a loaded model accepts.

    Attributes:
        languages: Language codes it takes as the spoken language (empty: it takes none).
        translates: It can translate between its languages.
        prompt_format: NeMo's prompt format name (``"canary"``, ``"canary2"``), or ``None``.
        slots: The names of its prompt's user slots.
    """

    languages: tuple[str, ...] = ()
    translates: bool = False
    prompt_format: str | None = None
    slots: tuple[str, ...] = ()
    prompt_default: str | None = None
    """The spoken language the model's own ``prompt_defaults`` name (Canary: ``source_lang``), if any."""

    @property
    def default_language(self) -> str | None:
        """The spoken language asked for when none is chosen: the model's own default where it is one of its
        languages (its tokenizer's list of languages need not start with it), else its first; ``None`` for a model
        that takes none."""
        if self.prompt_default in self.languages:
            return self.prompt_default
        return self.languages[0] if self.languages else None

    @property
    def takes_language(self) -> bool:
        return bool(self.languages)


def abilities(model: Any) -> Abilities:
    """Ask a loaded NeMo model what it accepts (see the module's docstring)."""
    from nemo.collections.asr.models import EncDecMultiTaskModel

    if not isinstance(model, EncDecMultiTaskModel):
        return _prompt_dictionary_abilities(getattr(model, "cfg", None) or {})
    slots = tuple(model.prompt.get_slots("user"))
    tokenizer = model.tokenizer
    languages = tuple(lang for lang in getattr(tokenizer, "langs", ()) if lang != SPECIAL_TOKENS_LANGUAGE)
    prompt_format = str(model.prompt_format)
    if prompt_format == CANARY:
        translates = _has_token(tokenizer, TRANSLATE_TOKEN) and len(languages) > 1
    else:
        translates = "target_lang" in slots and len(languages) > 1
    return Abilities(languages, translates, prompt_format, slots, _prompt_default(getattr(model, "cfg", None) or {}))


def _prompt_default(config: Any) -> str | None:
    """The ``source_lang`` of the user turn of a model config's ``prompt_defaults``, if it names one."""
    for turn in config.get("prompt_defaults") or []:
        if turn.get("role") == "user":
            language = (turn.get("slots") or {}).get("source_lang")
            return str(language) if language else None
    return None


def _has_token(tokenizer: Any, token: str) -> bool:
    try:
        tokenizer.special_tokens[token]  # CanaryTokenizer keeps its special tokens in a dict
    except (AttributeError, KeyError, TypeError):
        return False
    return True


def prompt_arguments(
    found: Abilities, model_name: str, *, language: str | None, translate_to: str | None
) -> dict[str, str]:
    """The keyword arguments that ask ``model_name`` for ``language`` (and a translation to ``translate_to``).

    Raises:
        LanguageOptionsError: The model takes no language, does not know one of them, or does not translate.
    """
    if found.prompt_format == LANGUAGE_PROMPT:
        if translate_to:
            raise LanguageOptionsError(f"{model_name} transcribes only; it cannot translate.")
        if language is not None and language not in found.languages:
            raise LanguageOptionsError(
                f"{model_name} does not know the spoken language {language!r}; it knows {', '.join(found.languages)}."
            )
        if language is None:  # NeMo's default is "auto", which only a dictionary with that key takes
            return {} if AUTO_PROMPT in found.languages else {"target_lang": found.default_language}
        return {"target_lang": language}
    if not found.takes_language:
        if language or translate_to:
            asked = "a translation" if translate_to else f"a language ({language})"
            raise LanguageOptionsError(
                f"{model_name} takes no language or task: it transcribes what it hears, so {asked} cannot be chosen."
            )
        return {}
    known = ", ".join(found.languages)
    source = language or found.default_language
    for code, role in ((source, "spoken language"), (translate_to, "translation target")):
        if code is not None and code not in found.languages:
            raise LanguageOptionsError(f"{model_name} does not know the {role} {code!r}; it knows {known}.")
    target = translate_to or source
    if target != source and not found.translates:
        raise LanguageOptionsError(f"{model_name} transcribes only; it cannot translate {source} to {target}.")
    arguments = {"source_lang": source, "target_lang": target}
    if "pnc" in found.slots:
        arguments["pnc"] = "yes"
    if "task" in found.slots:
        arguments["task"] = "ast" if target != source else "asr"
    return arguments


def abilities_from_config(config: dict[str, Any]) -> Abilities:
    """What a model accepts, read from its own config (``model_config.yaml`` in its ``.nemo``) without loading it:
    the prompt format, that format's user slots, and the languages of its aggregate tokenizer."""
    prompt_format = config.get("prompt_format")
    tokenizer = config.get("tokenizer") or {}
    if not prompt_format or tokenizer.get("type") != "agg":
        return _prompt_dictionary_abilities(config)
    from nemo.collections.common.prompts.formatter import PromptFormatter

    slots = tuple(PromptFormatter.resolve(str(prompt_format)).TEMPLATE["user"]["slots"])
    languages = tuple(lang for lang in tokenizer.get("langs") or {} if lang != SPECIAL_TOKENS_LANGUAGE)
    translates = len(languages) > 1 and ("task" in slots if prompt_format == CANARY else "target_lang" in slots)
    return Abilities(languages, translates, str(prompt_format), slots, _prompt_default(config))


def _prompt_dictionary_abilities(config: Any) -> Abilities:
    """A transducer conditioned on a language id takes the keys of its ``prompt_dictionary``; other models nothing."""
    defaults = config.get("model_defaults") or {}
    dictionary = defaults.get("prompt_dictionary") or {}
    if not dictionary:
        return Abilities()
    return Abilities(tuple(str(key) for key in dictionary), False, LANGUAGE_PROMPT, ("target_lang",))


def model_abilities(name: str) -> Abilities:
    """What the model ``name`` accepts, from the config inside its ``.nemo`` file on this computer; a model that is
    not on disk (not installed yet) or whose file cannot be read says it takes nothing, and using it says why."""
    from .models import resolve_model
    from .nemo_models import read_model_config

    try:
        source = resolve_model(name)
        if source.path is None:
            return Abilities()
        return abilities_from_config(read_model_config(source.path))
    except (TranscriberError, OSError, ValueError, KeyError) as exc:
        logger.warning("Cannot read what %s accepts: %s", name, exc)
        return Abilities()
