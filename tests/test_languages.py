"""Languages and translation: what a model takes comes from the model; the prompt reaches its decoder; bad
combinations are one sentence naming the model. Tiny Canary models (``canary2`` and ``canary`` prompt formats) built
offline drive the real ``transcribe()``."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tiny_models import CANARY_LANGUAGES, build_tiny_canary
from transcriber import cli
from transcriber.engine import Engine
from transcriber.languages import Abilities, LanguageOptionsError, prompt_arguments
from transcriber.types import AudioData, TranscribeOptions

CANARY2 = Abilities(("en", "de", "es", "fr"), True, "canary2", ("source_lang", "target_lang", "pnc"))
CANARY = Abilities(("en", "de"), True, "canary", ("source_lang", "target_lang", "task", "pnc"))


@pytest.mark.parametrize(
    "found, language, translate_to, expected",
    [
        (CANARY2, None, None, {"source_lang": "en", "target_lang": "en", "pnc": "yes"}),
        (CANARY2, "es", None, {"source_lang": "es", "target_lang": "es", "pnc": "yes"}),
        (CANARY2, "es", "en", {"source_lang": "es", "target_lang": "en", "pnc": "yes"}),
        (CANARY, "de", "en", {"source_lang": "de", "target_lang": "en", "pnc": "yes", "task": "ast"}),
        (CANARY, "de", None, {"source_lang": "de", "target_lang": "de", "pnc": "yes", "task": "asr"}),
        (Abilities(), None, None, {}),
    ],
)
def test_prompt_arguments_are_strings_for_the_models_own_slots(found, language, translate_to, expected):
    assert prompt_arguments(found, "m", language=language, translate_to=translate_to) == expected


@pytest.mark.parametrize(
    "found, language, translate_to, message",
    [
        (Abilities(), "de", None, "parakeet takes no language or task"),
        (Abilities(), None, "en", "parakeet takes no language or task: it transcribes what it hears, so a translation"),
        (CANARY2, "it", None, "parakeet does not know the spoken language 'it'; it knows en, de, es, fr."),
        (CANARY2, "en", "ja", "does not know the translation target 'ja'"),
        (Abilities(("en", "de"), False, "canary2", ("source_lang", "target_lang")), "de", "en",
         "parakeet transcribes only; it cannot translate de to en."),
    ],
)
def test_what_a_model_cannot_do_is_one_sentence_naming_it(found, language, translate_to, message):
    with pytest.raises(LanguageOptionsError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        prompt_arguments(found, "parakeet", language=language, translate_to=translate_to)
    assert "\n" not in str(error.value)


# --- Real tiny models ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=["canary2", "canary"])
def tiny_canary(request, tiny_model_dir):
    return request.param, str(build_tiny_canary(tiny_model_dir, request.param))


def clip() -> AudioData:
    samples = (np.random.default_rng(1).standard_normal(24_000) * 0.05).astype(np.float32)
    return AudioData(samples, 16_000, "talk.wav")


def decoder_prompts(engine: Engine, model: str) -> list[str]:
    """Record the prompt each decoding of ``model`` starts from, as text (the ids handed to its decoder)."""
    loaded = engine.load(model)
    nemo_model = loaded.model
    prompts: list[str] = []
    decode = nemo_model.decoding.decode_predictions_tensor

    def recording(*args, **kwargs):
        ids = kwargs["decoder_input_ids"]
        prompts.extend(nemo_model.tokenizer.ids_to_text(row.tolist()) for row in ids)
        return decode(*args, **kwargs)

    nemo_model.decoding.decode_predictions_tensor = recording
    return prompts


@pytest.mark.integration
def test_the_chosen_language_and_task_reach_the_canary_decoder(tiny_canary):
    prompt_format, model = tiny_canary
    engine = Engine(device="cpu")
    prompts = decoder_prompts(engine, model)
    options = TranscribeOptions(language="es", translate_to="en")
    (result,) = engine.transcribe_files([clip()], model=model, options=options)
    assert result.ok, result.error
    from transcriber.formats import result_to_dict

    recorded = result_to_dict(result)
    assert (recorded["language"], recorded["task"], recorded["translated_to"]) == ("es", "translate", "en")
    (prompt,) = prompts
    # canary2 says source and target language; canary (v1) puts the task between them
    translated, transcribed = {"canary2": ("<|es|><|en|>", "<|de|><|de|>"),
                               "canary": ("<|es|><|translate|><|en|>", "<|de|><|transcribe|><|de|>")}[prompt_format]
    assert translated in prompt.replace(" ", "") and "<|pnc|>" in prompt
    engine.transcribe_files([clip()], model=model, options=TranscribeOptions(language="de"))
    assert transcribed in prompts[-1].replace(" ", "")


@pytest.mark.integration
def test_the_canary_models_say_which_languages_they_know(tiny_canary):
    from transcriber.languages import abilities

    prompt_format, model = tiny_canary
    found = abilities(Engine(device="cpu").load(model).model)
    assert found.languages == CANARY_LANGUAGES and found.translates and found.prompt_format == prompt_format
    assert ("task" in found.slots) == (prompt_format == "canary")


@pytest.mark.integration
def test_asking_a_model_for_what_it_cannot_do_is_refused_before_nemo_sees_it(tiny_rnnt, tiny_canary):
    _, canary = tiny_canary
    engine = Engine(device="cpu")
    with pytest.raises(LanguageOptionsError, match="takes no language or task"):
        engine.transcribe_files([clip()], model=tiny_rnnt, options=TranscribeOptions(language="de"))
    with pytest.raises(LanguageOptionsError, match="does not know the spoken language 'it'"):
        engine.transcribe_files([clip()], model=canary, options=TranscribeOptions(language="it"))


@pytest.mark.integration
def test_the_cli_passes_language_and_translation_and_says_what_is_wrong(tiny_rnnt, tmp_path, capsys):
    import soundfile as sf

    path = tmp_path / "talk.wav"
    sf.write(path, clip().samples, 16_000)
    code = cli.main([str(path), "--model", tiny_rnnt, "--language", "de", "--json"], out=io.StringIO())
    error = capsys.readouterr().err.strip().splitlines()
    assert code == cli.EXIT_SOME_FAILED
    assert any("takes no language or task" in line for line in error) and "Traceback" not in "\n".join(error)


# --- The page -----------------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_page_passes_the_spoken_language_and_task_and_refuses_them_for_other_models(
    launch_app, tiny_canary, tiny_rnnt, tmp_path
):
    import soundfile as sf
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    prompt_format, model = tiny_canary
    engine = Engine(device="cpu")
    prompts = decoder_prompts(engine, model)
    client = Client(launch_app(engine=engine, model=model), verbose=False)
    path = tmp_path / "talk.wav"
    sf.write(path, clip().samples, 16_000)
    client.predict(handle_file(str(path)), model=model, language="fr", task="de", api_name="/transcribe")
    expected = "<|fr|><|de|>" if prompt_format == "canary2" else "<|fr|><|translate|><|de|>"
    assert expected in prompts[-1].replace(" ", "")
    with pytest.raises(AppError, match="takes no language or task"):
        client.predict(handle_file(str(path)), model=tiny_rnnt, language="fr", api_name="/transcribe")


@pytest.mark.integration
def test_long_audio_goes_to_canary_in_windows_of_its_own_limit(tiny_canary, tiny_rnnt):
    from transcriber import windows
    from transcriber.windows import AED_MAX_INPUT_S

    _, model = tiny_canary
    engine = Engine(device="cpu")
    prompts = decoder_prompts(engine, model)
    samples = (np.random.default_rng(2).standard_normal(16_000 * 60) * 0.05).astype(np.float32)
    (result,) = engine.transcribe_files([AudioData(samples, 16_000, "minute.wav")], model=model)
    assert result.ok, result.error
    limits = windows.limits_for(engine.load(model).model)
    assert limits.resolved()[0] == AED_MAX_INPUT_S and limits.resolved()[1] <= AED_MAX_INPUT_S
    assert len(prompts) == windows.window_count(60.0, limits) == 3  # 60 s in windows of at most 30 s
    assert windows.limits_for(engine.load(tiny_rnnt).model).resolved()[0] == windows.LONG_AUDIO_S  # 60 s in one


def test_a_transducer_with_a_language_prompt_takes_its_prompt_dictionarys_languages():
    from transcriber.languages import abilities_from_config

    config = {"model_defaults": {"prompt_dictionary": {"en-US": 0, "de-DE": 1}}, "tokenizer": {"type": "bpe"}}
    found = abilities_from_config(config)
    assert found.languages == ("en-US", "de-DE") and not found.translates
    assert prompt_arguments(found, "m", language="de-DE", translate_to=None) == {"target_lang": "de-DE"}
    assert prompt_arguments(found, "m", language=None, translate_to=None) == {"target_lang": "en-US"}
    detects = abilities_from_config({"model_defaults": {"prompt_dictionary": {"auto": 0, "de-DE": 1}}})
    assert prompt_arguments(detects, "m", language=None, translate_to=None) == {}  # NeMo's own default, "auto"
    with pytest.raises(LanguageOptionsError, match="does not know the spoken language 'fr'; it knows en-US, de-DE"):
        prompt_arguments(found, "m", language="fr", translate_to=None)
    with pytest.raises(LanguageOptionsError, match="cannot translate"):
        prompt_arguments(found, "m", language="de-DE", translate_to="en-US")
    assert abilities_from_config({"tokenizer": {"type": "bpe"}}) == Abilities()  # parakeet and the like


def test_with_no_language_chosen_a_canary_hears_its_own_default_not_the_first_it_lists(monkeypatch):
    from transcriber.languages import abilities_from_config
    from transcriber_ui import transcribe_tab

    langs = {code: {"dir": None, "type": "bpe"} for code in ("spl_tokens", "bg", "cs", "de", "en", "es", "fr")}
    config = {"prompt_format": "canary2", "tokenizer": {"type": "agg", "langs": langs},
              "prompt_defaults": [{"role": "user", "slots": {"source_lang": "en", "target_lang": "en", "pnc": "yes"}}]}
    found = abilities_from_config(config)
    assert found.languages[0] == "bg" and found.default_language == "en"
    assert prompt_arguments(found, "m", language=None, translate_to=None)["source_lang"] == "en"  # not Bulgarian
    assert prompt_arguments(found, "m", language=None, translate_to="de")["source_lang"] == "en"
    monkeypatch.setattr(transcribe_tab, "model_abilities", lambda name: found)  # as read from the model's file
    spoken, _ = transcribe_tab.language_widgets("canary.nemo")
    assert spoken["value"] == "en" and spoken["choices"][0] == ("Bulgarian (bg)", "bg")  # the page opens on English
    without = abilities_from_config({**config, "prompt_defaults": [{"role": "user", "slots": {"source_lang": "xx"}}]})
    assert without.default_language == "bg"  # a default the model does not know: its first


def encoder_prompts(engine: Engine, model: str) -> list[str]:
    """The language of the one-hot prompt the loaded prompt transducer joins to its encoder output, per call."""
    from tiny_models import PROMPT_LANGUAGES

    names = {index: code for code, index in PROMPT_LANGUAGES.items()}
    seen: list[str] = []
    kernel = engine.load(model).model.prompt_kernel

    def spy(_module, inputs):
        (indices,) = inputs[0][..., -len(names):].argmax(-1).unique().tolist()  # one language for the whole batch
        seen.append(names[indices])

    kernel.register_forward_pre_hook(spy)
    return seen


@pytest.mark.integration
def test_the_chosen_language_reaches_a_multilingual_transducers_prompt(tiny_prompt_rnnt, tmp_path, capsys):
    import json

    import soundfile as sf
    from tiny_models import PROMPT_LANGUAGES
    from transcriber.languages import abilities
    from transcriber_ui.transcribe_tab import language_widgets

    engine = Engine(device="cpu")
    found = abilities(engine.load(tiny_prompt_rnnt).model)
    assert found.languages == tuple(PROMPT_LANGUAGES) and not found.translates
    prompts = encoder_prompts(engine, tiny_prompt_rnnt)
    for language in ("de-DE", "fr-FR", None):
        (result,) = engine.transcribe_files([clip()], model=tiny_prompt_rnnt,
                                            options=TranscribeOptions(language=language, timestamps=True))
        assert result.ok, result.error
        assert result.transcript.words and result.transcript.language == (language or "auto")
    assert prompts == ["de-DE", "fr-FR", "en-US"]  # no language: the first, never NeMo's failing "auto"

    with pytest.raises(LanguageOptionsError, match="does not know the spoken language 'it-IT'; it knows en-US, de-DE"):
        engine.transcribe_files([clip()], model=tiny_prompt_rnnt, options=TranscribeOptions(language="it-IT"))
    path = tmp_path / "talk.wav"
    sf.write(path, clip().samples, 16_000)
    out = io.StringIO()
    assert cli.main([str(path), "--model", tiny_prompt_rnnt, "--language", "es-ES", "--json"], out=out) == cli.EXIT_OK
    assert json.loads(out.getvalue())["language"] == "es-ES"
    code = cli.main([str(path), "--model", tiny_prompt_rnnt, "--translate-to", "en-US"], out=io.StringIO())
    assert code == cli.EXIT_SOME_FAILED and "transcribes only; it cannot translate" in capsys.readouterr().err

    spoken, task = language_widgets(tiny_prompt_rnnt)  # the page: its languages, and no translation
    assert spoken["visible"] and spoken["value"] == "en-US"
    assert spoken["choices"] == [("English (en-US)", "en-US"), ("French (fr-FR)", "fr-FR"), ("German (de-DE)", "de-DE"),
                                 ("Spanish (es-ES)", "es-ES")]  # named, in the order of their names; codes as values
    assert [value for _, value in task["choices"]] == ["transcribe"]
