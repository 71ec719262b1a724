"""The transcript library on its own: a real SQLite file per test, no model, no Gradio."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from transcriber.errors import LibraryError, LibraryWriteError, TranscriptNotFoundError
from transcriber.library import Library, open_library, schema_version
from transcriber.library.media import ORPHAN_AGE_S
from transcriber.library.database import FOLD_FUNCTION, schema_files, split_statements
from transcriber.library.query import fold
from transcriber.library.store import DEFAULT_HIT_LIMIT, DEFAULT_LIST_LIMIT
from transcriber.types import Segment, Transcript, Word

ROOT = Path(__file__).resolve().parent.parent


def interview(tag: str = "", offset: float = 0.0) -> Transcript:
    """Two speakers, accented words, times that are not round in binary."""
    words = (
        Word("Hello", 0.1 + offset, 0.3 + offset, "S1"),
        Word("Zoë,", 0.34 + offset, 0.7 + offset, "S1"),
        Word("the", 1.2 + offset, 1.31 + offset, "S2"),
        Word("budget", 1.33 + offset, 1.77 + offset, "S2"),
        Word(f"in March{tag}.", 1.8 + offset, 2.3 + offset, "S2"),
    )
    segments = (
        Segment("Hello Zoë,", words[0].start, words[1].end, "S1"),
        Segment(f"the budget in March{tag}.", words[2].start, words[4].end, "S2"),
    )
    return Transcript(
        text=f"Hello Zoë, the budget in March{tag}.", words=words, segments=segments, duration=2.5 + offset,
        model="nvidia/parakeet-tdt-0.6b-v2", speakers=("S1", "S2"),
    )


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "library.sqlite")
    yield lib
    lib.close()


def audio_file(path: Path, content: bytes = b"RIFF" + bytes(2000)) -> Path:
    path.write_bytes(content)
    return path


# --- Stored exactly ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transcript",
    [
        interview(),
        Transcript(text="no timings here", duration=3.0, model="m"),
        Transcript(text="", duration=1.0, model="m"),
        Transcript(text="the budget", duration=1.0, model="m", language="es", translated_to="en"),
        Transcript(text="one", words=(Word("one", 1 / 3, 2 / 3),), segments=(Segment("one", 1 / 3, 2 / 3),),
                   duration=1e-3, model="m"),
    ],
    ids=["speakers", "text only", "silence", "translation", "thirds"],
)
def test_a_stored_transcript_loads_equal(library, transcript):
    transcript_id = library.save(transcript, name="talk.wav")
    entry, loaded = library.get(transcript_id)
    assert loaded == transcript
    assert (entry.name, entry.duration, entry.model, entry.speakers) == (
        "talk.wav", transcript.duration, transcript.model, transcript.speakers
    )
    Library(library.path).close()  # and from a fresh connection, after a reopen
    assert Library(library.path).get(transcript_id)[1] == transcript


def test_the_database_is_wal_with_foreign_keys_and_the_current_schema(library):
    connection = sqlite3.connect(library.path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert library._connection().execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert library.schema() == schema_version() == len(schema_files()) >= 2


def test_the_library_file_alone_holds_every_change_while_the_library_is_open(library, tmp_path):
    """A user backs up or copies library.sqlite while the app runs (or after it was killed): SQLite had kept every
    change in library.sqlite-wal beside it until the last connection closed, so the copy held none of them."""

    def copy_of_the_file() -> Library:
        copy = tmp_path / f"copy-{len(list(tmp_path.glob('copy-*')))}" / "library.sqlite"
        copy.parent.mkdir()
        shutil.copy(library.path, copy)  # the one file, not its -wal
        return Library(copy)

    transcript_id = library.save(interview(), name="talk.wav")
    library.save(interview(" again"), name="second.wav")
    assert [entry.name for entry in copy_of_the_file().entries()] == ["second.wav", "talk.wav"]
    library.update(transcript_id, interview(" corrected"), base_version=1)
    library.rename(transcript_id, "board meeting.wav")
    copy = copy_of_the_file()
    assert copy.get(transcript_id)[1].text == "Hello Zoë, the budget in March corrected."
    assert [hit.entry.name for hit in copy.search("corrected")] == ["board meeting.wav"]


def library_of_schema(path: Path, version: int) -> sqlite3.Connection:
    """A library as an older version of the app made it: the first ``version`` schema files applied."""
    old = sqlite3.connect(path)
    old.create_function(FOLD_FUNCTION, 1, fold)  # schema 6 fills its index with the app's folding
    for number, script in enumerate(schema_files()[:version], start=1):
        for statement in split_statements(script.read_text(encoding="utf-8")):
            old.execute(statement)
        old.execute(f"PRAGMA user_version = {number}")
    return old


def test_a_library_of_the_first_schema_opens_with_the_current_code(tmp_path):
    path = tmp_path / "old.sqlite"
    old = library_of_schema(path, 1)
    body = '{"text":"the budget","duration":2.0,"model":"m","speakers":[],"words":[["the",0.5,0.7,null],' \
           '["budget",0.8,1.2,null]],"segments":[["the budget",0.5,1.2,null]]}'
    old.execute("INSERT INTO transcripts (name, source_name, created, duration, model, body, speakers) VALUES "
                "('march.wav', 'march.wav', '2026-03-14T09:26:53Z', 2.0, 'm', ?, '')", (body,))
    old.execute("INSERT INTO passages (transcript_id, start, text, words) VALUES (1, 0.5, 'the budget', "
                "'[[\"the\",0.5],[\"budget\",0.8]]')")
    old.commit()
    old.close()

    library = Library(path)
    assert library.schema() == schema_version()
    (entry,) = library.entries()
    assert (entry.id, entry.name, entry.created) == (1, "march.wav", "2026-03-14T09:26:53Z")
    assert library.get(1)[1].words[1] == Word("budget", 0.8, 1.2)
    (hit,) = library.search("budget")
    assert hit.entry.id == 1 and hit.time == 0.8
    assert library.search("budget", owner="alice") == []  # made before logins: no one's but the no-login user's


def test_a_speaker_whose_name_holds_a_comma_is_one_speaker(library, tmp_path):
    """Renamed "Smith, John" in the review view, a speaker stays one speaker in the library's list (and in
    ``python -m transcriber.library list --json``), not two called "Smith" and "John"."""
    from transcriber import editing

    transcript_id = library.save(interview(), name="call.wav")
    entry, transcript = library.get(transcript_id)
    library.update(transcript_id, editing.rename_speaker(transcript, "S2", "Smith, John"), base_version=entry.version)
    (listed,) = library.entries()
    assert listed.speakers == ("S1", "Smith, John")
    assert library.save(editing.rename_speaker(interview(), "S1", "Lee, Ann"), name="b.wav")
    assert library.entries()[0].speakers == ("Lee, Ann", "S2")


def test_a_library_of_schema_four_lists_its_speakers_by_name(tmp_path):
    """Libraries made before: their speakers are read again from each transcript, names with commas whole."""
    from transcriber import editing
    from transcriber.library.records import transcript_to_json

    path = tmp_path / "four.sqlite"
    old = library_of_schema(path, 4)
    renamed = editing.rename_speaker(interview(), "S2", "Smith, John")
    for name, transcript in (("a.wav", renamed), ("b.wav", Transcript("plain", duration=1.0, model="m"))):
        old.execute("INSERT INTO transcripts (name, source_name, created, duration, model, body, speakers) VALUES "
                    "(?, ?, '2026-11-01T10:00:00Z', 2.5, 'm', ?, ?)",
                    (name, name, transcript_to_json(transcript), ", ".join(transcript.speakers)))
    old.commit()
    old.close()

    library = Library(path)
    assert library.schema() == schema_version()
    assert {entry.name: entry.speakers for entry in library.entries()} == {"a.wav": ("S1", "Smith, John"),
                                                                         "b.wav": ()}
    library.close()


def test_a_library_of_schema_five_finds_its_sharp_s_words_typed_either_way(tmp_path):
    """Libraries made before schema 6 indexed "Straße" as SQLite lower-cases it; opened now, it is found as
    "strasse" too, and its snippet still shows "Straße"."""
    from transcriber.library.records import transcript_to_json

    path = tmp_path / "five.sqlite"
    old = library_of_schema(path, 5)
    transcript = spoken("Die Straße ist groß")
    old.execute("INSERT INTO transcripts (name, source_name, created, duration, model, body, speakers) VALUES "
                "('a.wav', 'a.wav', '2026-11-01T10:00:00Z', 2.0, 'm', ?, '')", (transcript_to_json(transcript),))
    old.execute("INSERT INTO transcripts_fts (rowid, text) VALUES (1, ?)", (transcript.text,))
    old.execute("INSERT INTO passages (transcript_id, start, text, words) VALUES (1, 0.0, ?, "
                "'[[\"Die\",0.0],[\"Straße\",0.5],[\"ist\",1.0],[\"groß\",1.5]]')", (transcript.text,))
    old.commit()
    old.close()

    library = Library(path)
    assert library.schema() == schema_version()
    for query in ("strasse", "Straße", "gross"):
        (hit,) = library.search(query)
        assert hit.entry.id == 1 and "**" in hit.snippet and "Straße" in hit.snippet
    assert library.search("strasse")[0].time == 0.5
    library.delete(1)
    assert library.search("strasse") == []
    library.close()


def test_a_library_from_a_newer_version_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "new.sqlite"
    Library(path).close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    with pytest.raises(LibraryError, match="newer version"):
        Library(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


def test_an_sqlite_file_that_is_not_a_library_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE accounts (money INTEGER)")
    other.commit()
    with pytest.raises(LibraryError, match="not a transcript library"):
        Library(path)
    assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("accounts",)]


def test_the_storage_module_imports_neither_gradio_nor_nemo():
    code = ("import sys, transcriber.library, transcriber.library.cli; "
            "print(sorted({'gradio', 'nemo', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- Listing, renaming, deleting, owners -------------------------------------------------------------------------------


def test_the_listing_is_newest_first_and_per_owner(library):
    first = library.save(interview(), name="a.wav")
    second = library.save(interview(), name="b.wav")
    theirs = library.save(interview(), name="c.wav", owner="alice")
    assert [entry.id for entry in library.entries()] == [second, first]
    assert [entry.id for entry in library.entries(owner="alice")] == [theirs]
    assert library.count() == 2 and library.count(owner="alice") == 1


@pytest.mark.parametrize("action", ["get", "rename", "delete", "media_path"])
def test_another_owners_transcript_is_not_found(library, action, tmp_path):
    theirs = library.save(interview(), name="secret.wav", audio=audio_file(tmp_path / "secret.wav"), owner="alice")
    call = {
        "get": lambda owner: library.get(theirs, owner=owner),
        "rename": lambda owner: library.rename(theirs, "mine now", owner=owner),
        "delete": lambda owner: library.delete(theirs, owner=owner),
        "media_path": lambda owner: library.media_path(theirs, owner=owner),
    }[action]
    for intruder in ("bob", ""):
        with pytest.raises(TranscriptNotFoundError, match=f"no transcript {theirs}"):
            call(intruder)
    entry, _ = library.get(theirs, owner="alice")
    assert entry.name == "secret.wav" and library.media_path(theirs, owner="alice").is_file()


def test_rename_changes_only_the_name(library):
    transcript_id = library.save(interview(), name="a.wav")
    library.rename(transcript_id, "  Board meeting  ")
    entry, transcript = library.get(transcript_id)
    assert (entry.name, entry.source_name, transcript) == ("Board meeting", "a.wav", interview())
    with pytest.raises(LibraryError, match="cannot be empty"):
        library.rename(transcript_id, "   ")


def test_a_name_is_kept_on_one_line_and_of_a_length_a_list_can_show(library, capsys):
    """A name with a line break split its line in `library list` and its row on the page; a name of 5,000 characters
    was taken as it was."""
    from transcriber.library import cli as library_cli
    from transcriber.library.store import MAX_NAME_CHARS

    transcript_id = library.save(interview(), name="take\none.wav")  # Linux allows a line break in a file name
    assert library.rename(transcript_id, "Board\n meeting\t3") == "Board meeting 3"
    entry, _ = library.get(transcript_id)
    assert (entry.name, entry.source_name) == ("Board meeting 3", "take\none.wav")  # exports keep the file's name
    other = library.save(interview(), name="take\ntwo.wav")
    assert library.get(other)[0].name == "take two.wav"
    with pytest.raises(LibraryError, match=f"at most {MAX_NAME_CHARS} characters; this one has 5000"):
        library.rename(transcript_id, "a" * 5000)
    assert library.get(transcript_id)[0].name == "Board meeting 3"
    library.close()
    assert library_cli.main(["list", "--library", str(library.path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


# --- Audio ------------------------------------------------------------------------------------------------------------


def test_the_same_audio_is_stored_once_and_deleted_with_its_last_transcript(library, tmp_path):
    first = library.save(interview(), name="a.wav", audio=audio_file(tmp_path / "a.wav"))
    second = library.save(interview(), name="copy.wav", audio=audio_file(tmp_path / "copy.wav"))
    other = library.save(interview(), name="b.wav", audio=audio_file(tmp_path / "b.wav", b"RIFF" + bytes(3000)))
    stored = sorted(library.media_dir.iterdir())
    assert len(stored) == 2
    assert library.media_path(first) == library.media_path(second) != library.media_path(other)
    assert library.media_path(first).read_bytes() == (tmp_path / "a.wav").read_bytes()
    assert library.media_path(first).name.endswith(".wav") and len(library.media_path(first).stem) == 64

    library.delete(first)
    assert library.media_path(second).is_file()  # still used by the copy
    library.delete(second)
    assert sorted(library.media_dir.iterdir()) == [library.media_path(other)]
    with pytest.raises(TranscriptNotFoundError):
        library.get(first)
    assert library.search("budget") and [hit.entry.id for hit in library.search("budget")] == [other]


def test_a_video_is_kept_as_its_sound_only_and_once(library, tmp_path):
    """A video was copied in whole: a library of recorded talks doubled the gigabytes of their videos."""
    import av
    import numpy as np
    import soundfile as sf
    from audio_fixtures import write_video_with_audio

    video = write_video_with_audio(tmp_path / "talk.mp4", seconds=3.0)
    first = library.save(interview(), name="talk.mp4", audio=video)
    again = library.save(interview(), name="talk again.mp4", audio=video)
    kept = library.media_path(first)
    assert kept == library.media_path(again) and sorted(library.media_dir.iterdir()) == [kept]  # once
    assert kept.suffix == ".flac" and len(kept.stem) == 64
    sound = sf.info(str(kept))
    assert (sound.samplerate, sound.channels) == (16000, 1) and sound.duration == pytest.approx(3.0, abs=0.1)
    assert sf.read(str(kept))[0].std() > 0.01  # the tone, not silence
    library.delete(first)
    library.delete(again)
    assert not list(library.media_dir.iterdir())
    sound_only = tmp_path / "voice note.webm"  # a WebM without video (a browser's recording) is kept as it is
    with av.open(str(sound_only), "w") as container:
        stream = container.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.full((1, 48000), 0.1, dtype=np.float32), format="flt", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    kept = library.media_path(library.save(interview(), name="voice note.webm", audio=sound_only))
    assert kept.suffix == ".webm" and kept.read_bytes() == sound_only.read_bytes()


def test_text_only_libraries_keep_no_audio(tmp_path):
    library = Library(tmp_path / "lib.sqlite", keep_audio=False)
    transcript_id = library.save(interview(), name="a.wav", audio=audio_file(tmp_path / "a.wav"))
    assert library.media_path(transcript_id) is None and not library.get(transcript_id)[0].has_audio
    assert list(library.media_dir.iterdir()) == []


def test_the_size_counts_the_database_and_the_audio(library, tmp_path):
    empty = library.size_bytes()
    library.save(interview(), name="a.wav", audio=audio_file(tmp_path / "a.wav", bytes(500_000)))
    assert library.size_bytes() >= empty + 500_000


def test_audio_no_transcript_names_is_removed_on_open_once_it_is_old(library):
    old, young = library.media_dir / ("a" * 64 + ".wav"), library.media_dir / ("b" * 64 + ".wav")
    for path in (old, young):
        path.write_bytes(b"x")
    aged = time.time() - ORPHAN_AGE_S - 60
    os.utime(old, (aged, aged))
    Library(library.path).close()
    assert not old.exists() and young.exists()


def fill_disk(library: Library) -> None:
    """Make this thread's connection to ``library`` meet what SQLite meets on a full disk: no page can be added."""
    connection = library._connection()
    connection.execute(f"PRAGMA max_page_count = {connection.execute('PRAGMA page_count').fetchone()[0]}")


def test_a_full_disk_is_said_in_a_sentence_and_every_transcript_stays_as_it_was(library):
    kept = library.save(interview(), name="a.wav")
    fill_disk(library)
    long_talk = Transcript(text=" ".join(["budget"] * 20_000), duration=3600.0, model="m")
    full = r"The library .*library\.sqlite could not be written: its disk is full\. Nothing was changed\."
    with pytest.raises(LibraryWriteError, match=full):  # not sqlite3.OperationalError
        library.save(long_talk, name="b.wav")
    with pytest.raises(LibraryWriteError, match=full):  # a correction
        library.update(kept, long_talk, base_version=1)
    assert [entry.name for entry in library.entries()] == ["a.wav"]
    entry, transcript = library.get(kept)
    assert transcript == interview() and entry.version == 1 and not entry.edited
    assert [hit.entry.id for hit in library.search("budget")] == [kept]  # the index too
    library._connection().execute("PRAGMA max_page_count = 1073741823")  # room again: the next save works
    assert library.save(long_talk, name="b.wav")


# --- Search ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def searchable(library):
    ids = {
        "march": library.save(interview(), name="march.wav"),
        "april": library.save(interview(" and April", offset=10.0), name="april.wav"),
        "plain": library.save(Transcript(text="Budgets are dull", duration=4.0, model="m"), name="notes.wav"),
    }
    return library, ids


@pytest.mark.parametrize(
    "query, expected",
    [
        ("budget", {"march", "april"}),
        ("BUDGET", {"march", "april"}),
        ("budg*", {"march", "april", "plain"}),
        ("zoe", {"march", "april"}),  # "Zoë" without its accent
        ("ZOË", {"march", "april"}),
        ('"budget in march"', {"march", "april"}),
        ('"march budget"', set()),  # a phrase keeps its order
        ("april budget", {"april"}),  # every term must occur
        ("hello april", {"april"}),  # in the transcript, not necessarily in one segment
        ("dull", {"plain"}),
        ("nothing", set()),
    ],
)
def test_search_finds_words_prefixes_and_phrases_whatever_the_case_and_accents(searchable, query, expected):
    library, ids = searchable
    assert {hit.entry.id for hit in library.search(query)} == {ids[name] for name in expected}


def test_a_hit_has_a_snippet_and_the_time_of_the_matching_word(searchable):
    library, ids = searchable
    (march, april) = sorted(library.search("march"), key=lambda hit: hit.entry.name != "march.wav")
    assert "**March**" in march.snippet and march.snippet.startswith("the budget")
    assert march.time == pytest.approx(1.8) and april.time == pytest.approx(11.8)
    (hit,) = library.search('"the budget"', owner="")[:1]
    assert hit.time in (pytest.approx(1.2), pytest.approx(11.2))
    (plain,) = library.search("dull")
    assert plain.time is None and plain.snippet == "Budgets are **dull**"


def test_terms_in_different_segments_place_the_hit_at_the_first_of_them(searchable):
    library, ids = searchable
    (hit,) = library.search("april hello")
    assert hit.entry.id == ids["april"] and hit.time == pytest.approx(10.1) and hit.snippet == "**Hello** Zoë,"


def spoken(text: str) -> Transcript:
    """``text`` as one segment, a word every half second."""
    words = tuple(Word(word, index * 0.5, index * 0.5 + 0.4) for index, word in enumerate(text.split()))
    return Transcript(text=text, words=words, segments=(Segment(text, 0.0, words[-1].end),), duration=len(words) * 0.5,
                      model="m")


@pytest.mark.parametrize(
    "query, snippet",
    [
        ("Straße", "Wir treffen uns an der **Straße** beim großen Markt."),
        ("strasse", "Wir treffen uns an der **Straße** beim großen Markt."),  # as a Swiss or English keyboard has it
        ("STRASSE", "Wir treffen uns an der **Straße** beim großen Markt."),
        ("grosse*", "Wir treffen uns an der Straße beim **großen** Markt."),
        ('"der strasse"', "Wir treffen uns an **der Straße** beim großen Markt."),
        ("λόγος", "Ο **λόγος** είναι σαφής"),  # a Greek word ending in final sigma
        ("ΛΟΓΟΣ", "Ο **λόγος** είναι σαφής"),
    ],
)
def test_words_with_sharp_s_or_final_sigma_are_found_however_they_are_typed(library, query, snippet):
    library.save(spoken("Wir treffen uns an der Straße beim großen Markt."), name="treffen.wav")
    library.save(spoken("Ο λόγος είναι σαφής"), name="logos.wav")
    (hit,) = library.search(query)
    assert hit.snippet == snippet  # the passage as it was written, ß and accents kept


def test_a_correction_is_found_with_its_sharp_s_and_the_old_words_are_not(library):
    transcript_id = library.save(spoken("we meet in the street"), name="walk.wav")
    library.update(transcript_id, spoken("wir treffen uns in der Fußgängerzone"), base_version=1)
    assert [hit.entry.id for hit in library.search("fussgangerzone")] == [transcript_id]
    assert library.search("street") == []


def test_a_long_passage_shows_the_part_around_its_match(library):
    words = [f"w{index}" for index in range(60)]
    words[40] = "Größe"
    library.save(Transcript(text=" ".join(words), duration=30.0, model="m"), name="notes.wav")  # no timings
    (hit,) = library.search("grosse")
    assert hit.snippet == "…w33 w34 w35 w36 w37 w38 w39 **Größe** w41 w42 w43 w44 w45 w46 w47 w48…"


def test_search_ranks_the_denser_match_first(library):
    library.save(Transcript(text="a budget mentioned once among many other words about other things", model="m"),
                 name="once.wav")
    dense = library.save(Transcript(text="budget budget budget", model="m"), name="dense.wav")
    assert library.search("budget")[0].entry.id == dense


def test_search_finds_a_transcript_by_its_name_too(library):
    """A library of a thousand recordings is searched for "smith interview": the words of its name, never spoken in
    it, found nothing, and beyond the newest 500 the list does not show it either. Every term must occur in the name
    or the text; a name that matches ranks first; a renamed transcript is found by its new name only."""
    spoken_budget = library.save(spoken("the budget for next year"), name="board.wav")
    named = library.save(spoken("good morning everyone"), name="2024-05-03 Smith interview (budget).m4a")
    library.save(spoken("an interview about nothing"), name="other.wav")
    assert [hit.entry.id for hit in library.search("smith interview")] == [named]
    assert [hit.entry.id for hit in library.search("SMITH morning")] == [named]  # one term in each
    assert [hit.entry.id for hit in library.search("2024 05")] == [named]
    assert [hit.entry.id for hit in library.search("budget")] == [named, spoken_budget]
    (hit,) = library.search("smith")
    assert (hit.snippet, hit.time) == ("", None)  # nothing spoken to show or play from
    library.rename(named, "Jones call.m4a")
    assert library.search("smith") == [] and [hit.entry.id for hit in library.search("jones")] == [named]
    library.update(named, spoken("good evening everyone"), base_version=1)
    assert [hit.entry.id for hit in library.search("jones evening")] == [named]


def test_search_finds_the_transcripts_a_named_speaker_speaks_in(library):
    """A speaker named in the review view ("Anna Berg") is whom a user looks for: "berg" found only the transcripts
    in which someone said the name."""
    from transcriber import editing

    with_anna = library.save(editing.rename_speaker(interview(), "S2", "Anna Berg"), name="call.wav")
    later = library.save(interview(), name="later.wav")
    (hit,) = library.search("berg")
    assert hit.entry.id == with_anna and hit.time == pytest.approx(1.2)  # where she first speaks
    library.update(later, editing.rename_speaker(interview(), "S1", "Anna Berg"), base_version=1)
    assert {hit.entry.id for hit in library.search("anna budget")} == {with_anna, later}
    library.update(later, interview(), base_version=2)  # named back
    assert [hit.entry.id for hit in library.search("berg")] == [with_anna]


def test_a_library_of_schema_six_finds_its_transcripts_by_name_and_speaker(tmp_path):
    from transcriber.library.records import transcript_to_json

    path = tmp_path / "six.sqlite"
    old = library_of_schema(path, 6)
    old.execute("INSERT INTO transcripts (name, source_name, created, duration, model, body, speakers) VALUES "
                "('Straße interview.wav', 'a.wav', '2026-11-01T10:00:00Z', 2.0, 'm', ?, ?)",
                (transcript_to_json(spoken("good morning")), "Zoë Berg\nS2"))
    old.execute("INSERT INTO transcripts_fts (rowid, text) VALUES (1, 'good morning')")
    old.commit()
    old.close()
    library = Library(path)
    assert [hit.entry.id for hit in library.search("strasse")] == [1]
    assert [hit.entry.id for hit in library.search("morning")] == [1]
    assert [hit.entry.id for hit in library.search("zoe")] == [1]
    library.close()


def japanese() -> Transcript:
    """"Next week's meeting talks about the budget": Japanese puts no spaces between its words."""
    words = (Word("来週の", 0.0, 0.5), Word("会議は", 0.5, 1.0), Word("予算について", 1.0, 1.8),
             Word("話します。", 1.8, 2.5))
    text = "来週の会議は予算について話します。"
    return Transcript(text, words, (Segment(text, 0.0, 2.5),), 3.0, "m")


def test_words_of_a_language_written_without_spaces_are_found_within_its_text(library):
    """A Japanese or Chinese sentence was one word to the index, so "予算" (budget) found nothing in it, nor "メモ"
    in a transcript named "会議メモ"; such text is searched as a reader searches it, character by character."""
    ja = library.save(japanese(), name="会議メモ.wav")
    zh = library.save(Transcript("我们明天讨论预算问题", duration=3.0, model="m"), name="讨论.wav")
    (hit,) = library.search("予算")
    assert (hit.entry.id, hit.time) == (ja, pytest.approx(1.0))
    assert hit.snippet == "来週の会議は**予算**について話します。"
    assert [hit.entry.id for hit in library.search('"会議は予算"')] == [ja]
    assert [hit.entry.id for hit in library.search("予算 話します")] == [ja]
    assert [hit.entry.id for hit in library.search("予算 明天")] == []
    assert library.search("予定") == []  # 予 is in it, 予定 (plans) is not
    assert [hit.entry.id for hit in library.search("预算")] == [zh]
    assert [hit.entry.id for hit in library.search("メモ")] == [ja]
    assert [hit.entry.id for hit in library.search("budget 予算")] == []
    library.rename(zh, "予算の話.wav")
    assert sorted(hit.entry.id for hit in library.search("予算")) == sorted([ja, zh])


def test_a_library_of_schema_seven_finds_words_within_its_japanese_text(tmp_path):
    from transcriber.library.records import passages, transcript_to_json

    path = tmp_path / "seven.sqlite"
    old = library_of_schema(path, 7)
    old.execute("INSERT INTO transcripts (name, source_name, created, duration, model, body, speakers) VALUES "
                "('会議メモ.wav', 'a.wav', '2026-11-01T10:00:00Z', 3.0, 'm', ?, '')", (transcript_to_json(japanese()),))
    old.executemany("INSERT INTO passages (transcript_id, start, text, words) VALUES (1, ?, ?, ?)", passages(japanese()))
    old.execute(f"INSERT INTO passages_fts (rowid, text) SELECT id, {FOLD_FUNCTION}(text) FROM passages")
    old.execute(f"INSERT INTO transcripts_fts (rowid, name, speakers, text) SELECT id, {FOLD_FUNCTION}(name), "
                f"{FOLD_FUNCTION}(speakers), {FOLD_FUNCTION}(json_extract(body, '$.text')) FROM transcripts")
    old.commit()
    assert old.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH '\"予算\"'").fetchone() == (0,)
    old.close()
    library = Library(path)
    (hit,) = library.search("予算")
    assert hit.time == pytest.approx(1.0) and "**予算**" in hit.snippet
    assert [hit.entry.id for hit in library.search("メモ")] == [1]
    library.close()


@pytest.mark.parametrize("query", ['budget AND', 'NEAR(budget', '"unbalanced', "-budget", "budget:", "*", "^", "a OR"])
def test_search_text_is_never_read_as_fts_syntax(searchable, query):
    library, ids = searchable
    hits = library.search(query)  # no sqlite3.OperationalError
    assert all(hit.entry.id in ids.values() for hit in hits)


def test_an_empty_query_lists_everything_newest_first(searchable):
    library, ids = searchable
    assert [hit.entry.id for hit in library.search("  ")] == [ids["plain"], ids["april"], ids["march"]]


def test_ids_are_every_transcript_a_search_finds_beyond_the_lists_limits_oldest_first(library):
    budget = [library.save(Transcript(text=f"budget item {n}", duration=1.0, model="m"), name=f"b{n}.wav")
              for n in range(DEFAULT_LIST_LIMIT + 10)]
    other = library.save(Transcript(text="a holiday", duration=1.0, model="m"), name="h.wav")
    library.save(Transcript(text="budget of another", duration=1.0, model="m"), name="x.wav", owner="alice")
    assert len(library.search("budget")) == DEFAULT_HIT_LIMIT  # the best matches, for a person to read
    assert library.ids("budget") == budget  # every match, for an export
    assert library.ids("") == library.ids("  ") == [*budget, other]
    assert library.ids("holiday") == [other] and library.ids("nowhere") == []
    assert len(library.ids(owner="alice")) == 1 and library.ids("holiday", owner="alice") == []


def test_search_sees_only_the_owners_transcripts(library):
    library.save(interview(), name="mine.wav", owner="bob")
    library.save(interview(), name="theirs.wav", owner="alice")
    assert [hit.entry.name for hit in library.search("budget", owner="bob")] == ["mine.wav"]


# --- Nothing lost ------------------------------------------------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_moved_aside_and_a_fresh_library_started(tmp_path):
    path = tmp_path / "library.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    library, notice = open_library(path)
    (aside,) = tmp_path.glob("library.sqlite.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not a database")
    assert aside.name in notice and "moved aside" in notice
    assert library.count() == 0 and library.get(library.save(interview(), name="a.wav"))[1] == interview()


def test_a_damaged_library_is_moved_aside(tmp_path):
    path = tmp_path / "library.sqlite"
    library = Library(path)
    library.save(interview(), name="a.wav")
    library.close()
    data = bytearray(path.read_bytes())
    data[:100] = bytes(100)  # the header gone
    path.write_bytes(bytes(data))
    library, notice = open_library(path)
    assert library is not None and library.count() == 0 and "moved aside" in notice


@pytest.mark.parametrize("name, content", [("notes.txt", b"my own notes"), ("talk.wav", b"RIFF....WAVEfmt ")])
def test_a_file_that_was_never_a_library_is_left_as_it_is(name, content, tmp_path):
    """A mistyped --library must not move (and take the name of) a user's own file."""
    path = tmp_path / name
    path.write_bytes(content)
    library, notice = open_library(path)
    assert library is None
    assert f"{path} is not a transcript library" in notice and "left as it is" in notice
    assert sorted(p.name for p in tmp_path.iterdir()) == [name] and path.read_bytes() == content


def test_a_folder_given_as_the_library_says_to_name_a_file_in_it(tmp_path):
    library, notice = open_library(tmp_path)
    assert library is None and f"such as {tmp_path / 'library.sqlite'}" in notice
    assert list(tmp_path.iterdir()) == []


def test_a_library_folder_that_cannot_be_written_gives_no_library_and_says_why(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    library, notice = open_library(blocker / "library.sqlite")
    assert library is None
    assert str(blocker) in notice and "will not be saved" in notice


def save_many(path: str, prefix: str, count: int) -> None:
    library = Library(path)
    for number in range(count):
        library.save(interview(f" {prefix}{number}"), name=f"{prefix}{number}.wav")
    library.close()


def test_two_processes_and_two_threads_saving_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "library.sqlite")
    Library(path).close()
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=save_many, args=(path, f"p{n}", 25)) for n in range(2)]
    threads = [threading.Thread(target=save_many, args=(path, f"t{n}", 25)) for n in range(2)]
    for worker in [*processes, *threads]:
        worker.start()
    for worker in [*processes, *threads]:
        worker.join(timeout=120)
    assert all(process.exitcode == 0 for process in processes)
    library = Library(path)
    assert library.count() == 100
    assert library._connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    names = {entry.name for entry in library.entries()}
    assert names == {f"{prefix}{n}.wav" for prefix in ("p0", "p1", "t0", "t1") for n in range(25)}
    assert all(library.get(entry.id)[1] == interview(" " + entry.name[:-4]) for entry in library.entries())
    assert len(library.search("budget", limit=200)) == 100


SAVER = """
import sys
from test_library import interview
from transcriber.library import Library
library = Library(sys.argv[1])
number = int(sys.argv[2])
print("ready", flush=True)
while True:
    library.save(interview(f" n{number}"), name=f"n{number}.wav", audio=sys.argv[3])
    number += 1
"""
KILLS = 20


def test_a_process_killed_while_saving_leaves_every_earlier_transcript_intact(tmp_path):
    import random

    path = tmp_path / "library.sqlite"
    audio = audio_file(tmp_path / "a.wav", bytes(200_000))
    Library(path).close()
    chooser = random.Random(20261201)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    saved = 0
    for _ in range(KILLS):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(saved), str(audio)],
                                 stdout=subprocess.PIPE, env=environment)
        assert saver.stdout.readline() == b"ready\n"
        time.sleep(chooser.uniform(0.0, 0.3))
        saver.kill()
        saver.wait()
        library = Library(path)
        assert library._connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        entries = library.entries(limit=100_000)
        assert len(entries) >= saved  # nothing saved before was lost
        for entry in entries:
            assert library.get(entry.id)[1] == interview(" " + entry.name[:-4])
        assert len(library.search("budget", limit=100_000)) == len(entries)  # the index matches the rows
        saved = len(entries)
        library.close()
    assert saved > KILLS  # the kills came part-way through a run of saves, not before the first


# --- Corrections ------------------------------------------------------------------------------------------------------


def test_a_correction_is_a_new_version_and_the_models_output_stays(library):
    from transcriber import editing

    transcript_id = library.save(interview(), name="a.wav")
    corrected = editing.edit_text(interview(), 1, "the budgie in March.")
    assert library.update(transcript_id, corrected, base_version=1) == 2
    entry, current = library.get(transcript_id)
    assert (entry.version, entry.edited, current) == (2, True, corrected)
    assert library.version(transcript_id, 1) == interview()
    assert [hit.entry.id for hit in library.search("budgie")] == [transcript_id] and library.search("budget") == []

    back = library.update(transcript_id, library.version(transcript_id, 1), base_version=2)
    entry, current = library.get(transcript_id)
    assert (back, entry.version, entry.edited, current) == (3, 3, False, interview())  # back to the model's output
    assert library.version(transcript_id, 2) == corrected  # and the correction is still there to redo


def test_a_save_based_on_a_replaced_version_is_refused(library):
    from transcriber.errors import StaleVersionError

    transcript_id = library.save(interview(), name="a.wav")
    library.update(transcript_id, interview(" (first tab)"), base_version=1)
    with pytest.raises(StaleVersionError, match="changed elsewhere"):
        library.update(transcript_id, interview(" (second tab)"), base_version=1)
    assert library.get(transcript_id)[1] == interview(" (first tab)")


def test_corrections_belong_to_the_owner(library):
    transcript_id = library.save(interview(), name="a.wav", owner="alice")
    with pytest.raises(TranscriptNotFoundError):
        library.update(transcript_id, interview("!"), base_version=1, owner="bob")
    with pytest.raises(TranscriptNotFoundError):
        library.version(transcript_id, 1, owner="bob")
