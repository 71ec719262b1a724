"""The voice pool (``demo_model/voices.py``): stable ids, splits that never share a voice family (a vocal tract)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from demo_model.make_data import VOCABULARY
from demo_model.voices import (
    FESTIVAL_VOICES,
    HELD_OUT_SYNTHESIZER,
    ITALIAN_SPELLING,
    SAMPLE_RATE,
    Voice,
    VoiceChange,
    _festival,
    by_id,
    espeak_families,
    espeak_variants,
    installed_synthesizers,
    italian_spelling,
    pool,
    split_voices,
)

needs_synthesizers = pytest.mark.skipif(
    not {"espeak-ng", "flite"} <= set(installed_synthesizers()), reason="espeak-ng and flite are needed"
)


def synthetic_pool() -> tuple[Voice, ...]:
    """A pool of made-up voices: the split rules do not depend on what is installed."""
    espeak = [Voice("espeak-ng", base, variant, family=f"espeak-ng:{variant or 'plain'}")
              for variant in ("", *(f"v{i}" for i in range(40))) for base in ("en-gb", "en-us", "en-029")]
    flite = [Voice("flite", name, family=f"flite:{name.rstrip('16')}")
             for name in ("kal16", "kal", "awb", "rms", "slt")]
    festival = [Voice("festival", name, family=f"festival:{name}") for name in ("a", "b", "c")]
    pico = [Voice("pico", name, family=f"pico:{name}") for name in ("en-US", "en-GB")]
    return (*espeak, *flite, *festival, *pico)


def test_every_voice_falls_in_exactly_one_split_and_families_are_never_split():
    voices = synthetic_pool()
    splits = split_voices(voices)
    assigned = [voice for members in splits.values() for voice in members]
    assert sorted(v.id for v in assigned) == sorted(v.id for v in voices)
    family_split = {}
    for name, members in splits.items():
        for voice in members:
            assert family_split.setdefault(voice.family, name) == name, voice.family


def test_each_synthesizer_has_unseen_voices_and_one_synthesizer_is_held_out_whole():
    splits = split_voices(synthetic_pool())
    assert {v.synthesizer for v in splits["held_out"]} == {HELD_OUT_SYNTHESIZER}
    for name in ("train", "validation", "test"):
        assert HELD_OUT_SYNTHESIZER not in {v.synthesizer for v in splits[name]}
    for synthesizer in ("espeak-ng", "flite", "festival"):
        assert any(v.synthesizer == synthesizer for v in splits["test"])
        assert any(v.synthesizer == synthesizer for v in splits["train"])
    assert {v.id for v in split_voices(synthetic_pool(), held_out=None)["held_out"]} == set()


def test_the_split_does_not_depend_on_order_and_a_new_voice_moves_no_other():
    voices = synthetic_pool()
    before = split_voices(voices)
    reordered = split_voices(tuple(reversed(voices)))
    assert {k: set(v) for k, v in reordered.items()} == {k: set(v) for k, v in before.items()}
    grown = split_voices((*voices, Voice("espeak-ng", "en-gb", "v40", family="espeak-ng:v40")))
    where = {voice: name for name, members in before.items() for voice in members}
    moved = [v for name, members in grown.items() for v in members if v in where and where[v] != name]
    # At most the two families at the test and validation boundaries change sides (3 accents each).
    assert len(moved) <= 2 * 3


def test_a_family_drawn_into_several_splits_goes_whole_into_training():
    voices = synthetic_pool()
    drawn = split_voices(voices)
    lots = {name: sorted({v.variant for v in drawn[name] if v.synthesizer == "espeak-ng"}) for name in drawn}
    # One vocal tract under a test lot, a validation lot and a training lot (as espeak-ng's iven, iven2 and iven3).
    shared = {lots["test"][0], lots["validation"][0], lots["train"][0]}
    def is_shared(voice: Voice) -> bool:
        return voice.synthesizer == "espeak-ng" and voice.variant in shared

    merged = tuple(replace(v, family="espeak-ng:shared", lot=v.family) if is_shared(v) else v for v in voices)
    splits = split_voices(merged)
    assert {v.variant for v in splits["train"] if v.synthesizer == "espeak-ng"} \
        == {v.variant for v in drawn["train"] if v.synthesizer == "espeak-ng"} | shared
    assert not any(is_shared(v) for name in ("validation", "test") for v in splits[name])
    # Every other voice stays where it was drawn.
    moved = {v.id for v in merged if is_shared(v)}
    assert {k: {v.id for v in members} - moved for k, members in splits.items()} \
        == {k: {v.id for v in members} - moved for k, members in drawn.items()}


def test_a_speaker_of_two_synthesizers_is_drawn_once_and_never_trained_on_where_it_is_measured():
    flite_families = {"kal": "flite:kal", "slt": "flite:slt"}
    # festival's kal and slt are flite's speakers (the same diphones, the same recordings); ked is its own.
    shared = tuple(Voice("festival", name, family=flite_families.get(name, f"festival:{name}"))
                   for name in ("kal", "ked", "slt"))
    voices = (*synthetic_pool(), *shared)
    for order in (voices, tuple(reversed(voices)), shared + synthetic_pool()):
        splits = split_voices(order)
        where = {v.id: name for name, members in splits.items() for v in members}
        assert where["festival:kal"] == where["flite:kal"] == where["flite:kal16"]
        assert where["festival:slt"] == where["flite:slt"]
        # festival draws only its own speaker: one lot, so it trains on ked; what it shares is flite's draw.
        assert where["festival:ked"] == "train"
        assert where == {v.id: name for name, members in split_voices(voices).items() for v in members}
        # Each split keeps the order it was given (the data generator picks voices by position).
        for members in splits.values():
            assert list(members) == [v for v in order if v in members]
    # Held out whole: flite's speakers spoken by festival are then measured (test), never trained on.
    splits = split_voices(voices, held_out="flite")
    assert {v.synthesizer for v in splits["held_out"]} == {"flite"}
    test_ids = {v.id for v in splits["test"]}
    assert {"festival:kal", "festival:slt"} <= test_ids and "festival:ked" not in test_ids


def test_a_variant_file_gives_its_tract_by_formant_frequencies(tmp_path, monkeypatch):
    import demo_model.voices as voices

    monkeypatch.setattr(voices, "ESPEAK_VARIANT_DIR", tmp_path)
    files = {
        "wide": "language variant\nname Wide\nklatt 6\nformant 1 100 100 130\n",  # a bandwidth: the plain tract
        "low": "name Low\n// formant 0 50 50 50\nformant 2 95 80 100 // lower\nformant 3 100 80 100 40\n",
        "low2": "name Low2\npitch 200 250\nformant 3 100 90 90 40\nformant 2 95 100 100\n",
        "odd": "name Odd\nformant 1 110 ##\nformant\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert voices.espeak_tract("wide") == () == voices.espeak_tract("")
    assert voices.espeak_tract("low") == ((2, 95, 0), (3, 100, 40)) == voices.espeak_tract("low2")
    assert voices.espeak_tract("odd") == ((1, 110, 0),)
    families = voices.espeak_families((*files, "missing"))
    assert families == {"": "espeak-ng:plain", "wide": "espeak-ng:plain", "low": "espeak-ng:low",
                        "low2": "espeak-ng:low", "odd": "espeak-ng:odd", "missing": "espeak-ng:missing"}


@pytest.mark.skipif("espeak-ng" not in installed_synthesizers(), reason="espeak-ng is needed")
def test_espeak_variants_that_keep_every_formant_are_the_plain_voice_and_no_unseen_voice_shares_a_training_tract():
    families = espeak_families(espeak_variants())
    # fast only speeds up, croak adds flutter, the klatt variants change the source, adam a bandwidth: the plain tract.
    assert {families[v] for v in ("", "fast", "croak", "klatt3", "klatt6", "adam")} == {"espeak-ng:plain"}
    assert len({families[v] for v in ("iven", "iven2", "iven3", "iven4")}) == 1  # voicing and tone only
    assert families["m2"] not in (families[""], families["m3"])
    splits = split_voices()
    train = {v.family for v in splits["train"]}
    for name in ("validation", "test"):
        assert splits[name] and not {v.family for v in splits[name]} & train
    assert {v.variant for v in splits["test"]}.isdisjoint({"fast", "croak", "adam", "klatt6", "iven", "steph2"})


@pytest.mark.skipif(not {"flite", "festival", "pico"} <= set(installed_synthesizers()),
                    reason="flite, festival and pico are needed")
def test_the_installed_pool_trains_on_diphone_speakers_and_holds_out_pico():
    splits = split_voices()
    where = {v.id: name for name, members in splits.items() for v in members}
    assert where["festival:ked_diphone"] == "train"  # the diphone speaker no other synthesizer has
    if "festival:lp_diphone" in where:  # festival's Italian speakers (Debian's festvox-italp16k, festvox-itapc16k)
        assert (where["festival:lp_diphone"], where["festival:pc_diphone"]) == ("train", "test")
    assert where["festival:kal_diphone"] == where["flite:kal"] == "test"
    assert where["festival:cmu_us_slt_arctic_hts"] == where["flite:slt"]
    assert {v.id for v in splits["held_out"]} == {"pico:en-US", "pico:en-GB"}


def test_ids_are_stable_and_unique():
    assert Voice("espeak-ng", "en-us", "m4").id == "espeak-ng:en-us+m4"
    assert Voice("flite", "slt").id == "flite:slt"
    ids = [voice.id for voice in pool()]
    assert len(ids) == len(set(ids))


@needs_synthesizers
@pytest.mark.parametrize("synthesizer", ["espeak-ng", "flite", "festival", "pico"])
def test_every_synthesizer_speaks_at_16_khz(synthesizer):
    if synthesizer not in installed_synthesizers():
        pytest.skip(f"{synthesizer} is not installed")
    voice = next(v for v in pool() if v.synthesizer == synthesizer)
    samples = voice.speak("seven three go")
    assert samples.dtype == np.float32
    assert 0.5 * SAMPLE_RATE < len(samples) < 4 * SAMPLE_RATE
    assert np.abs(samples).max() > 0.05
    if synthesizer != "festival":  # festival has no rate control
        assert len(voice.speak("seven three go", rate=1.5)) < 0.85 * len(samples)


def test_italian_speakers_get_english_words_in_italian_spelling():
    assert italian_spelling("seven three, go left!") == "seven tri, gou left!"
    assert italian_spelling("Hello the river") == "hellou the river"  # a word outside the vocabulary as it is
    assert set(ITALIAN_SPELLING) == set(VOCABULARY)


@pytest.mark.skipif(not Path(FESTIVAL_VOICES["pc_diphone"].folder).is_dir(),
                    reason="festival's Italian voices are needed")
def test_festival_says_a_text_the_same_way_every_time_and_each_caller_gets_its_own_copy():
    voice = by_id("festival:pc_diphone")
    first = voice.speak("three go")
    first[:] = 0  # a caller's copy: changing it leaves what the next call gets
    again = voice.speak("three go")
    assert np.abs(again).max() > 0.05
    assert np.array_equal(again, _festival.__wrapped__("pc_diphone", "three go"))  # festival run afresh


@pytest.mark.skipif("pico" not in installed_synthesizers(), reason="pico is needed")
def test_pico_says_a_text_the_same_way_whatever_it_said_before():
    # Which clips one make_data worker speaks varies from run to run: the held-out clips must not depend on it.
    voice = by_id("pico:en-US")
    first = voice.speak("go left stop")
    voice.speak("one two", rate=1.5, pitch=0.3)
    assert np.array_equal(voice.speak("go left stop"), first)


@needs_synthesizers
def test_a_changed_voice_is_a_new_speaker_saying_the_same_words_in_the_same_time():
    voice = next(v for v in pool() if v.synthesizer == "flite")
    change = VoiceChange(formant_ratio=1.15, pitch_hz=220, pitch_range=1.3)
    new = voice.changed(change)
    assert new.id == f"{voice.id}~f1.15p220r1.3" and new.family != voice.family
    original, changed = voice.speak("seven three go"), new.speak("seven three go")
    assert len(changed) == len(original)
    # Another voice: not the same samples, and its spectrum moved up (formants x1.15, pitch to 220 Hz).
    assert np.corrcoef(original, changed)[0, 1] < 0.5

    def centroid(samples):
        spectrum = np.abs(np.fft.rfft(samples)) ** 2
        return (np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE) * spectrum).sum() / spectrum.sum()

    assert centroid(changed) > 1.05 * centroid(original)
    # The same samples every time, whatever was changed before (training data is reproducible).
    voice.changed(VoiceChange(0.9, 120, 0.8)).speak("stop")
    assert np.array_equal(new.speak("seven three go"), changed)
    assert VoiceChange.draw(np.random.default_rng(0)) == VoiceChange.draw(np.random.default_rng(0))


def test_a_sound_too_short_to_analyse_keeps_its_voice():
    blip = np.random.default_rng(0).standard_normal(400).astype(np.float32) * 0.1  # 25 ms: no pitch analysis fits
    assert np.array_equal(VoiceChange(1.1, 200, 1.2).apply(blip), blip)


@needs_synthesizers
def test_a_continuous_clip_is_several_phrases_of_unseen_voices_in_a_row(tmp_path):
    import soundfile as sf

    from demo_model.make_data import VOCABULARY, make_continuous_clip

    (tmp_path / "continuous").mkdir()
    entries = [make_continuous_clip("continuous", index, tmp_path) for index in range(4)]
    test_ids = {v.id for v in split_voices()["test"]}
    for entry in entries:
        words = entry["text"].split()
        assert len(words) >= 3 and set(words) <= set(VOCABULARY)
        assert set(entry["voice"].split(", ")) <= test_ids  # one or two voices, never a training voice
        samples, rate = sf.read(entry["audio_filepath"])
        assert rate == SAMPLE_RATE and abs(len(samples) / rate - entry["duration"]) < 1e-3
        # continuous: no pause inside as long as a clip's leading silence can be
        loud = np.abs(samples) > 0.01 * np.abs(samples).max()
        inside = np.flatnonzero(loud)
        quiet_runs = np.diff(inside) / rate
        assert quiet_runs.max() < 0.6


@needs_synthesizers
def test_training_data_has_talk_that_goes_on_by_training_voices(tmp_path):
    from demo_model.make_data import MAX_WORDS, TRAINING, VOCABULARY, make_clip

    (tmp_path / "train").mkdir()
    entries = [make_clip("train", index, tmp_path) for index in range(10)]
    continuous = [e for e in entries if e["kind"] == "continuous"]
    assert continuous, [e["kind"] for e in entries]
    train_ids = {v.id for v in split_voices()["train"]}
    low, high = TRAINING.continuous_phrases
    for entry in continuous:
        words = entry["text"].split()
        assert low <= len(words) <= high * MAX_WORDS and set(words) <= set(VOCABULARY)
        # one or two voices of the training split (a new voice made from one counts as that voice's split)
        assert {v.split("~")[0] for v in entry["voice"].split(", ")} <= train_ids


@pytest.fixture
def drawn_babble_share(monkeypatch):
    """How often ``make_data.background`` draws babble for a split's conditions (2,000 draws), with babble replaced
    by a marker: no synthesis, only which noise is drawn."""
    import demo_model.make_data as make_data

    marker = np.full(160, 7.0, dtype=np.float32)
    monkeypatch.setattr(make_data, "babble", lambda n, split, rng, tracks: marker)
    rng = np.random.default_rng(0)

    def share(conditions, *, alone: bool) -> float:
        return sum(make_data.background(160, conditions, rng, alone=alone)[0] is marker for _ in range(2000)) / 2000

    return share


def test_training_clips_without_speech_are_babble_more_often_than_the_noise_under_speech(drawn_babble_share):
    import demo_model.make_data as make_data

    training = make_data.TRAINING
    assert drawn_babble_share(training, alone=True) == pytest.approx(training.noise_only_babble_share, abs=0.04)
    assert drawn_babble_share(training, alone=False) == pytest.approx(training.babble_share, abs=0.04)
    assert training.noise_only_babble_share > training.babble_share
    # Evaluation splits keep one share for both (their noise-only clips are the noise split's, unchanged).
    noise = make_data.SPLIT_CONDITIONS["noise"]
    assert noise.noise_only_babble_share is None
    assert drawn_babble_share(noise, alone=True) == pytest.approx(noise.babble_share, abs=0.04)


def test_a_run_can_hear_more_babble_under_its_training_speech_and_keeps_the_rest(monkeypatch, drawn_babble_share):
    import demo_model.make_data as make_data

    monkeypatch.setitem(make_data.SPLIT_CONDITIONS, "train", make_data.TRAINING)  # restored after the test
    make_data.use_training_noise((0.0, 20.0), 0.6)  # what --train-snr 0 20 --train-babble 0.6 runs in each process

    train = make_data.SPLIT_CONDITIONS["train"]
    assert train.noise_snr_db == (0.0, 20.0)
    assert drawn_babble_share(train, alone=False) == pytest.approx(0.6, abs=0.04)
    # Clips without speech keep their share, and validation keeps the default's, so runs are measured alike.
    assert drawn_babble_share(train, alone=True) == pytest.approx(make_data.TRAINING.noise_only_babble_share, abs=0.04)
    validation = make_data.SPLIT_CONDITIONS["validation"]
    assert drawn_babble_share(validation, alone=False) == pytest.approx(make_data.TRAINING.babble_share, abs=0.04)


def test_babble_is_of_the_training_voices_in_training_and_of_unseen_voices_in_evaluation(monkeypatch):
    """Whose voices talk in the babble under each split's clips: an evaluation split never hears training voices'
    babble unless asked (``babble_check`` asks), and training never hears test voices."""
    import demo_model.make_data as make_data

    heard = []
    monkeypatch.setattr(make_data, "babble",
                        lambda n, split, rng, tracks: heard.append(split) or np.zeros(n, np.float32))
    rng = np.random.default_rng(0)

    def babble_of(conditions) -> str:
        heard.clear()
        make_data.background(160, replace(conditions, babble_share=1.0), rng)
        (split,) = heard
        return split

    conditions = make_data.SPLIT_CONDITIONS
    assert babble_of(conditions["train"]) == "train"
    assert babble_of(conditions["validation"]) == "train"
    assert babble_of(conditions["noisy"]) == babble_of(conditions["noise"]) == "test"
    assert babble_of(replace(conditions["noisy"], babble_voices="train")) == "train"


@needs_synthesizers
def test_more_clips_of_a_split_continue_it_without_repeating_a_clip(tmp_path):
    import json

    from demo_model.make_data import main

    def written(out, *args):
        assert main(["--out", str(out), "--workers", "1", "--train", "0", "--validation", "0", "--held-out", "0",
                     "--noisy", "0", "--noise", "0", "--continuous", "0", *args]) == 0
        return [json.loads(line) for line in (out / "test.json").read_text().splitlines()]

    first = written(tmp_path / "a", "--test", "3")
    more = written(tmp_path / "b", "--test", "2", "--first", "1")
    assert [Path(e["audio_filepath"]).name for e in more] == ["test-00001.wav", "test-00002.wav"]
    for before, after in zip(first[1:], more, strict=True):  # clip 1 is clip 1, however many were written before it
        assert Path(before["audio_filepath"]).read_bytes() == Path(after["audio_filepath"]).read_bytes()
        assert {**before, "audio_filepath": ""} == {**after, "audio_filepath": ""}


def test_some_training_voices_are_narrow_band_under_noise_that_is_not(monkeypatch):
    import demo_model.make_data as make_data

    monkeypatch.setattr(make_data, "reverberate", lambda samples, rng: samples)
    seconds = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    voice = (0.3 * np.sin(2 * np.pi * 1000 * seconds) + 0.3 * np.sin(2 * np.pi * 6000 * seconds)).astype(np.float32)

    def band_rms(samples: np.ndarray, low: float, high: float) -> float:
        spectrum = np.abs(np.fft.rfft(samples[1000:-1000]))
        hz = np.fft.rfftfreq(len(samples) - 2000, 1 / SAMPLE_RATE)
        return float(np.sqrt((spectrum[(hz > low) & (hz < high)] ** 2).mean()))

    narrow = replace(make_data.TRAINING, narrow_band_prob=1.0, noise_prob=0.0)
    quiet, _, _ = make_data.room_and_noise(voice, narrow, np.random.default_rng(0), np.random.default_rng(0))
    assert band_rms(quiet, 900, 1100) > 0.5 * band_rms(voice, 900, 1100)  # what an 8 kHz recording keeps
    assert band_rms(quiet, 5900, 6100) < 0.01 * band_rms(voice, 5900, 6100)  # and what it loses
    white = replace(narrow, noise_prob=1.0, noise_snr_db=(10.0, 10.0), babble_share=0.0)
    monkeypatch.setattr(make_data, "background",
                        lambda n, conditions, rng, alone=False: (rng.standard_normal(n), "steady"))
    noisy, _, _ = make_data.room_and_noise(voice, white, np.random.default_rng(0), np.random.default_rng(0))
    assert band_rms(noisy, 4500, 7500) > 20 * band_rms(quiet, 4500, 7500)  # the room's noise keeps its high band

    assert 0 < make_data.TRAINING.narrow_band_prob < 0.5
    # Evaluation splits draw nothing for it, so their clips stay as they were.
    evaluated = [c for name, c in make_data.SPLIT_CONDITIONS.items() if name not in ("train", "validation")]
    assert len(evaluated) == 5 and all(c.narrow_band_prob == 0 for c in evaluated)


@needs_synthesizers
def test_a_run_can_add_louder_noise_more_babble_or_other_babble_under_training_speech_and_validation_stays(
    tmp_path, capsys
):
    import json

    from demo_model.make_data import main

    def written(out, *args):
        assert main(["--out", str(out), "--train", "12", "--validation", "4", "--test", "0", "--held-out", "0",
                     "--noisy", "0", "--noise", "0", "--continuous", "0", *args]) == 0
        return {split: [json.loads(line) for line in (out / f"{split}.json").read_text().splitlines()]
                for split in ("train", "validation")}

    default, loud = written(tmp_path / "default"), written(tmp_path / "loud", "--train-snr", "0", "3")
    babble = written(tmp_path / "babble", "--train-babble", "1")
    other = written(tmp_path / "other", "--train-babble", "1", "--train-babble-tracks", "8")
    under_noise = [(a["snr_db"], b["snr_db"])
                   for a, b in zip(default["train"], loud["train"], strict=True) if a["snr_db"] is not None]
    assert len(under_noise) >= 4 and all(0 <= snr <= 3 for _, snr in under_noise), under_noise
    assert any(snr > 3 for snr, _ in under_noise)  # what the default draws for the same clips
    for a, b, c, d in zip(default["validation"], loud["validation"], babble["validation"], other["validation"],
                          strict=True):
        assert Path(a["audio_filepath"]).read_bytes() == Path(b["audio_filepath"]).read_bytes()
        assert Path(a["audio_filepath"]).read_bytes() == Path(c["audio_filepath"]).read_bytes()
        assert Path(a["audio_filepath"]).read_bytes() == Path(d["audio_filepath"]).read_bytes()
    # All babble: the same clips, but those the default put in steady noise sound otherwise.
    assert [a["text"] for a in default["train"]] == [c["text"] for c in babble["train"]]
    changed = [Path(a["audio_filepath"]).read_bytes() != Path(c["audio_filepath"]).read_bytes()
               for a, c in zip(default["train"], babble["train"], strict=True)]
    assert any(changed) and not all(changed), changed
    under_noise = [(a["noise"], c["noise"])
                   for a, c in zip(default["train"], babble["train"], strict=True) if a["snr_db"] is not None]
    assert ("steady", "babble") in under_noise and all(c == "babble" for _, c in under_noise), under_noise
    # Another bank of babble tracks: the same clips at the same SNRs, each clip with babble under it sounds otherwise.
    unplaced = [[{**entry, "audio_filepath": ""} for entry in run["train"]] for run in (babble, other)]
    assert unplaced[0] == unplaced[1]
    for c, d in zip(babble["train"], other["train"], strict=True):
        same = Path(c["audio_filepath"]).read_bytes() == Path(d["audio_filepath"]).read_bytes()
        assert same == (c["noise"] != "babble"), c
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--train-snr", "20", "0"])
    assert "--train-snr 20 0: LOW must not be above HIGH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--train-babble", "1.5"])
    assert "--train-babble 1.5: a share from 0 to 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--train-babble-tracks", "0"])
    assert "--train-babble-tracks 0: at least 1" in capsys.readouterr().err


@needs_synthesizers
def test_the_babble_check_puts_babble_of_each_source_under_the_same_noisy_clips(tmp_path, capsys):
    import json

    from demo_model.babble_check import check, main
    from transcriber.models import DEMO_MODEL_PATH

    figures = check(tmp_path, DEMO_MODEL_PATH, 4)
    own, seen = ([json.loads(line) for line in (tmp_path / source / "noisy.json").read_text().splitlines()]
                 for source in ("test", "train"))
    # The noisy split's speakers, words and SNRs, with babble under every clip, from each bank in turn.
    assert [(e["voice"], e["text"], e["snr_db"]) for e in own] == [(e["voice"], e["text"], e["snr_db"]) for e in seen]
    assert all(e["noise"] == "babble" and 0 <= e["snr_db"] <= 10 for e in own + seen)
    assert {e["voice"] for e in own} <= {v.id for v in split_voices()["test"]}
    for a, b in zip(own, seen, strict=True):
        assert Path(a["audio_filepath"]).read_bytes() != Path(b["audio_filepath"]).read_bytes()
    for source in ("test voices", "training tracks"):
        # A row for all clips and one for each clip's 2.5 dB band of SNR (a clip at 10.0 dB in the top band).
        bands = {f"{low:g}-{low + 2.5:g} dB" for low in (min(2.5 * (e["snr_db"] // 2.5), 7.5) for e in own)}
        assert {f"{source} {band}" for band in bands | {"0-10 dB"}} == {k for k in figures if k.startswith(
            source) and k.endswith("dB")}
        # How many voices talk at once in each bank, in shares of time that add up to all of it.
        talking = [figures[f"{source} {k} talking"] for k in range(7)]
        assert sum(talking) == pytest.approx(100) and talking[0] < 50
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "none"), "--count", "0"])
    assert "--count 0: at least one clip" in capsys.readouterr().err
