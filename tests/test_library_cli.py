"""``python -m transcriber FILES --library PATH`` saves; ``python -m transcriber.library`` lists, searches, shows,
exports, renames and deletes. A real tiny model; the library commands run in-process."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from audio_fixtures import write_text, write_tone
from transcriber import cli
from transcriber.library import Library
from transcriber.library import cli as library_cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def library_command(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return library_cli.main(list(args), out=out), out.getvalue()


@pytest.fixture
def filled(tiny_rnnt, tmp_path):
    """A library the command line saved two good files into (a bad one in between is not saved)."""
    path = tmp_path / "library.sqlite"
    files = [write_tone(tmp_path / "one.wav", seconds=1.0), write_text(tmp_path / "bad.wav"),
             write_tone(tmp_path / "two.wav", seconds=2.0)]
    code = cli.main([*map(str, files), "--model", tiny_rnnt, "--timestamps", "--library", str(path), "--json"],
                    out=io.StringIO())
    assert code == cli.EXIT_SOME_FAILED  # the bad file
    return path


def test_the_cli_saves_each_transcribed_file_into_the_library(filled, tmp_path):
    library = Library(filled)
    assert [entry.name for entry in library.entries()] == ["two.wav", "one.wav"]
    assert library.media_path(library.entries()[0].id).read_bytes() == (tmp_path / "two.wav").read_bytes()
    code, listing = library_command("list", "--library", str(filled), "--json")
    assert code == 0
    assert [json.loads(line)["name"] for line in listing.splitlines()] == ["two.wav", "one.wav"]


def test_a_folder_batch_saves_too_and_a_resume_does_not_save_twice(tiny_rnnt, tmp_path):
    path, out = tmp_path / "library.sqlite", tmp_path / "out"
    folder = tmp_path / "in"
    folder.mkdir()
    write_tone(folder / "a.wav", seconds=1.0)
    for _ in range(2):
        assert cli.main([str(folder), "--model", tiny_rnnt, "--out", str(out), "--library", str(path)]) == 0
    assert [entry.name for entry in Library(path).entries()] == ["a.wav"]


def test_files_a_batch_did_before_its_library_was_given_are_saved_from_their_markers_once(tiny_rnnt, tmp_path,
                                                                                          capsys):
    """Run without ``--library``, then again with it: the files skipped as done never reached the library (as a
    save interrupted by Ctrl-C, or one that failed). They are saved from their done markers, not transcribed again,
    and no later run saves them twice; another library, or another user's, gets them too."""
    path, out, folder = tmp_path / "library.sqlite", tmp_path / "out", tmp_path / "in"
    folder.mkdir()
    for name in ("a.wav", "b.wav"):
        write_tone(folder / name, seconds=1.0)
    batch = [str(folder), "--model", tiny_rnnt, "--out", str(out)]
    assert cli.main(batch) == 0
    texts = {name: json.loads((out / f"{Path(name).stem}.json").read_text(encoding="utf-8"))["text"]
             for name in ("a.wav", "b.wav")}
    capsys.readouterr()
    assert cli.main([*batch, "--library", str(path)]) == 0
    err = capsys.readouterr().err
    assert "0 transcribed, 2 already done, 0 failed" in err
    assert "2 files done before were saved to the library" in err
    library = Library(path)
    assert sorted((entry.name, entry.has_audio) for entry in library.entries()) == [("a.wav", True), ("b.wav", True)]
    assert {entry.name: library.get(entry.id)[1].text for entry in library.entries()} == texts
    library.close()
    for _ in range(2):
        assert cli.main([*batch, "--library", str(path)]) == 0
        assert "saved to the library" not in capsys.readouterr().err
    assert len(Library(path).entries()) == 2
    assert cli.main([*batch, "--library", str(path), "--user", "anna"]) == 0
    assert sorted(entry.name for entry in Library(path).entries(owner="anna")) == ["a.wav", "b.wav"]
    assert len(Library(path).entries()) == 2


def test_files_done_by_a_version_that_did_not_record_its_saves_are_not_saved_again(tiny_rnnt, tmp_path, capsys):
    """An archive run with ``--out`` and ``--library`` before done markers recorded the library: every file is in
    the library already, and resuming the same command must not save the whole archive a second time."""
    path, out, folder = tmp_path / "library.sqlite", tmp_path / "out", tmp_path / "in"
    folder.mkdir()
    write_tone(folder / "a.wav", seconds=1.0)
    batch = [str(folder), "--model", tiny_rnnt, "--out", str(out), "--library", str(path)]
    assert cli.main(batch) == 0
    (marker,) = (out / ".transcriber-done").glob("*.json")
    written = json.loads(marker.read_text(encoding="utf-8"))
    assert [(record["library"], record["user"]) for record in written["kept"]] == [(str(path.resolve()), "")]
    marker.write_text(json.dumps({key: value for key, value in written.items() if key != "kept"}), encoding="utf-8")
    write_tone(folder / "b.wav", seconds=1.0, frequency=330.0)  # added since (other audio, not a copy of a.wav)
    capsys.readouterr()
    assert cli.main(batch) == 0
    assert "1 transcribed, 1 already done" in capsys.readouterr().err
    assert sorted(entry.name for entry in Library(path).entries()) == ["a.wav", "b.wav"]


def test_files_found_in_a_folder_are_named_by_their_path_in_it(tiny_rnnt, tmp_path):
    """An archive keeps a ``memo.wav`` in every day's folder: saved from a folder, the library listed "memo.wav",
    "memo.wav", ... and no one could tell which day each was. A file given by itself keeps its name."""
    folder = tmp_path / "archive"
    for day in ("monday", "tuesday"):
        (folder / day).mkdir(parents=True)
        write_tone(folder / day / "memo.wav", seconds=1.0)
    board = write_tone(tmp_path / "board.wav", seconds=1.0)
    path = tmp_path / "library.sqlite"
    assert cli.main([str(folder), str(board), "--model", tiny_rnnt, "--library", str(path)], out=io.StringIO()) == 0
    names = [entry.name for entry in reversed(Library(path).entries())]
    assert names == [str(Path("monday", "memo.wav")), str(Path("tuesday", "memo.wav")), "board.wav"]
    code, _ = library_command("export", "1", "--formats", "txt,json", "--out", str(tmp_path / "export"),
                              "--library", str(path))
    assert code == 0 and sorted(p.name for p in (tmp_path / "export").iterdir()) == ["memo.json", "memo.txt"]
    assert json.loads((tmp_path / "export" / "memo.json").read_text())["file"] == str(Path("monday", "memo.wav"))
    code, found = library_command("search", "tuesday", "--library", str(path))  # by its name: nothing to show of it
    assert code == 0 and found == f"     2  {Path('tuesday', 'memo.wav')}\n"


def test_a_batch_saved_for_a_login_is_that_users_in_the_app(tiny_rnnt, tmp_path, capsys):
    """With logins (--auth), each user's Library tab shows their own transcripts: a batch saved from the command line
    belonged to the app without logins, and no logged-in user could see it."""
    path, clip = tmp_path / "library.sqlite", write_tone(tmp_path / "board.wav", seconds=1.0)
    assert cli.main([str(clip), "--model", tiny_rnnt, "--library", str(path), "--user", "anna"], out=io.StringIO()) == 0
    library = Library(path)
    assert ([entry.name for entry in library.entries(owner="anna")], library.entries()) == (["board.wav"], [])
    assert library_command("list", "--library", str(path), "--user", "anna")[1].split()[-2] == "board.wav"
    with pytest.raises(SystemExit):
        cli.main([str(clip), "--model", tiny_rnnt, "--user", "anna"])
    assert "--user names whose transcripts --library saves: give --library PATH" in capsys.readouterr().err


def test_search_show_export_rename_delete(filled, tmp_path):
    library = str(filled)
    code, hits = library_command("search", "nin*", "--library", library)
    assert code == 0 and len(hits.splitlines()) == 2 and "**nine**" in hits
    two = Library(filled).entries()[0].id

    code, shown = library_command("show", str(two), "--library", library)
    data = json.loads(shown)
    assert (data["id"], data["name"], data["file"]) == (two, "two.wav", "two.wav") and len(data["words"]) == 25

    code, written = library_command("export", str(two), "--formats", "srt,docx", "--out", str(tmp_path / "x"),
                                    "--library", library)
    assert code == 0 and [Path(line).name for line in written.splitlines()] == ["two.srt", "two.docx"]
    assert (tmp_path / "x" / "two.srt").read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> ")

    assert library_command("rename", str(two), "Interview", "--library", library)[0] == 0
    assert Library(filled).get(two)[0].name == "Interview"
    assert library_command("delete", str(two), "--library", library) == (0, f"Deleted transcript {two}.\n")
    assert [entry.name for entry in Library(filled).entries()] == ["one.wav"]


def test_export_writes_several_transcripts_or_all_each_under_a_name_of_its_own(tiny_rnnt, tmp_path, capsys):
    """Getting a library's transcripts out (a backup as documents, subtitles for every recording) took one export
    command per transcript, and two of one name (every day's memo.wav) overwrote each other. ``export ID...`` and
    ``export --all`` write them all, oldest first, the second of a name numbered."""
    folder, path = tmp_path / "archive", tmp_path / "library.sqlite"
    for day, seconds in (("monday", 1.0), ("tuesday", 2.0)):
        (folder / day).mkdir(parents=True)
        write_tone(folder / day / "memo.wav", seconds=seconds)
    board = write_tone(tmp_path / "board.wav", seconds=1.5)
    assert cli.main([str(folder), str(board), "--model", tiny_rnnt, "--timestamps", "--library", str(path)],
                    out=io.StringIO()) == 0
    library = str(path)
    out = tmp_path / "export"
    code, written = library_command("export", "--all", "--formats", "srt,txt", "--out", str(out), "--library", library)
    assert code == 0
    assert [Path(line).name for line in written.splitlines()] == [
        "memo.srt", "memo.txt", "memo-2.srt", "memo-2.txt", "board.srt", "board.txt"]
    cues = [len((out / f"{stem}.srt").read_text(encoding="utf-8").split("\n\n")) for stem in ("memo", "memo-2")]
    assert cues[0] < cues[1]  # monday's one second, then tuesday's two: each its own, none overwritten
    # again (after a correction, say): the same names, replaced, none added
    assert library_command("export", "--all", "--formats", "srt,txt", "--out", str(out), "--library", library) == (
        0, written)
    assert len(list(out.iterdir())) == 6

    code, written = library_command("export", "3", "1", "404", "--formats", "json", "--out", str(tmp_path / "two"),
                                    "--library", library)
    assert code == 1 and [Path(line).name for line in written.splitlines()] == ["board.json", "memo.json"]
    assert capsys.readouterr().err == "error: There is no transcript 404 in the library.\n"
    assert json.loads((tmp_path / "two" / "memo.json").read_text())["file"] == str(Path("monday", "memo.wav"))

    code, written = library_command("export", "--search", "tuesday", "--formats", "txt", "--out", str(tmp_path / "s"),
                                    "--library", library)
    assert code == 0 and [Path(line).name for line in written.splitlines()] == ["memo.txt"]
    assert (tmp_path / "s" / "memo.txt").read_text(encoding="utf-8") == (out / "memo-2.txt").read_text(encoding="utf-8")
    assert library_command("export", "--search", "nowhere", "--out", str(tmp_path / "none"), "--library", library) == (
        0, "")
    assert capsys.readouterr().err == f"note: no transcript in {path} matches 'nowhere'.\n"
    assert library_command("export", "--search", "  ", "--library", library)[0] == 1
    assert "holds no word to search for; to export every transcript, give --all" in capsys.readouterr().err
    assert library_command("export", "--all", "--user", "nobody", "--out", str(tmp_path / "none"),
                           "--library", library) == (0, "")
    assert capsys.readouterr().err == f"note: the library {path} holds no transcripts of nobody.\n"
    assert not (tmp_path / "none").exists()
    for wrong, said in ((["export"], "export needs the ids of the transcripts to write (see list), --all or --search"),
                        (["export", "1", "--all"], "export takes one of: the ids of the transcripts to write, --all"),
                        (["export", "--all", "--search", "memo"], "export takes one of:")):
        with pytest.raises(SystemExit) as stop:
            library_command(*wrong, "--library", library)
        assert stop.value.code == 2 and said in capsys.readouterr().err


def test_library_commands_fail_in_one_sentence(filled, tmp_path, capsys):
    assert library_command("show", "999", "--library", str(filled))[0] == 1
    assert capsys.readouterr().err == "error: There is no transcript 999 in the library.\n"
    huge = "9" * 25  # more than SQLite's ids hold: an OverflowError traceback
    for command in (["show", huge], ["export", huge], ["rename", huge, "x"], ["delete", huge]):
        assert library_command(*command, "--library", str(filled))[0] == 1
        assert capsys.readouterr().err == f"error: There is no transcript {huge} in the library.\n"
    assert library_command("list", "--library", str(tmp_path / "none.sqlite"))[0] == 1
    assert "there is no library at" in capsys.readouterr().err
    too_long = tmp_path / ("x" * 300 + ".sqlite")  # looking it up raised "File name too long" in a traceback
    assert library_command("list", "--library", str(too_long))[0] == 1
    assert capsys.readouterr().err == f"error: there is no library at {too_long}\n"
    assert library_command("export", "1", "--formats", "pdf", "--library", str(filled))[0] == 1
    assert "Unknown format pdf" in capsys.readouterr().err
    assert library_command("list", "--library", str(filled), "--user", "alice") == (0, "")
    assert capsys.readouterr().err.endswith("holds no transcripts of alice.\n")
    assert library_command("export", "1", "--library", str(filled), "--out", str(filled))[0] == 1
    assert capsys.readouterr().err == f"error: Cannot write the exports into {filled}: {filled} is a file, not a folder.\n"
    assert library_command("list", "--library", str(tmp_path))[0] == 1  # a folder: said once, with what to give
    assert capsys.readouterr().err == (f"error: {tmp_path} is a folder; a library is a file: name one, such as "
                                       f"{tmp_path / 'library.sqlite'}.\n")


def test_an_export_onto_a_full_disk_fails_in_one_sentence(filled, small_disk, capsys):
    (small_disk / "filler.bin").write_bytes(bytes(250 * 1024))
    code, _ = library_command("export", "1", "--formats", "docx", "--library", str(filled), "--out", str(small_disk))
    assert code == 1
    assert capsys.readouterr().err == (f"error: Cannot write the export of transcript 1 in {small_disk}: "
                                       "No space left on device.\n")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler.bin"]


def test_list_shows_every_transcript_and_search_says_when_it_shows_only_the_best(tmp_path, capsys):
    """"every transcript, newest first" stopped at 500 without a word; a search at 50, likewise."""
    from transcriber.library.store import DEFAULT_HIT_LIMIT, DEFAULT_LIST_LIMIT
    from transcriber.types import Transcript

    path = tmp_path / "library.sqlite"
    library = Library(path)
    for n in range(DEFAULT_LIST_LIMIT + 1):
        library.save(Transcript(f"take {n} of the budget", duration=1.0, model="m"), name=f"take-{n:03d}.wav")
    library.close()
    code, listed = library_command("list", "--library", str(path))
    assert code == 0 and len(listed.splitlines()) == DEFAULT_LIST_LIMIT + 1
    assert "take-000.wav" in listed.splitlines()[-1]
    code, found = library_command("search", "budget", "--library", str(path))
    assert code == 0 and len(found.splitlines()) == DEFAULT_HIT_LIMIT
    assert capsys.readouterr().err == (f"note: the {DEFAULT_HIT_LIMIT} best matches are shown: add words to narrow "
                                       "the search.\n")
    assert library_command("search", "take 7", "--library", str(path))[0] == 0
    assert capsys.readouterr().err == ""  # a few matches: all shown, nothing to say


def test_list_says_when_each_transcript_was_made_in_local_time_and_json_in_utc(filled, new_york_clock):
    import sqlite3

    with sqlite3.connect(filled) as db:
        db.execute("UPDATE transcripts SET created = '2026-12-06T02:49:24Z'")
    code, listed = library_command("list", "--library", str(filled))
    assert code == 0 and all("  2026-12-05 21:49  " in line for line in listed.splitlines())
    durations = [re.search(r"21:49  (\S+)  ", line).group(1) for line in listed.splitlines()]
    assert durations == ["00:00:02", "00:00:01"]  # as a clock shows them, not "2.0s"
    code, as_json = library_command("list", "--json", "--library", str(filled))
    assert code == 0 and {row["created"] for row in map(json.loads, as_json.splitlines())} == {"2026-12-06T02:49:24Z"}


def test_an_audio_file_given_as_the_library_is_refused(tmp_path):
    clip = write_tone(tmp_path / "talk.wav", seconds=1.0)
    run = subprocess.run([sys.executable, "-m", "transcriber", str(clip), "--library", str(clip)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 2 and "is an audio or video file, not a library" in run.stderr
    assert Path(clip).read_bytes()[:4] == b"RIFF"  # untouched


def test_library_is_a_module_not_a_word_taken_for_a_file(tmp_path):
    run = subprocess.run([sys.executable, "-m", "transcriber.library", "--help"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0 and all(word in run.stdout for word in ("list", "search", "export", "delete"))
    assert "``" not in run.stdout  # the module docstring's markup stays out of the help


def test_the_library_and_the_login_may_come_before_the_command(tmp_path):
    """``--library PATH list`` was refused as "invalid choice: PATH" for the command."""
    from transcriber.types import Transcript

    path = tmp_path / "library.sqlite"
    library = Library(path)
    library.save(Transcript("mine", duration=1.0, model="m"), name="mine.wav", owner="ann")
    library.save(Transcript("theirs", duration=1.0, model="m"), name="theirs.wav")
    library.close()
    assert library_command("--library", str(path), "--user", "ann", "list")[1].split()[-2:] == ["mine.wav", "(m)"]
    assert "theirs.wav" in library_command("--library", str(path), "list")[1]
    # After the command it is as before, and there it wins over one given before.
    assert "mine.wav" in library_command("--library", str(tmp_path / "none"), "list", "--library", str(path),
                                         "--user", "ann")[1]


def test_an_empty_list_or_a_search_without_hits_says_so_on_stderr(filled, tmp_path, capsys):
    """Both printed nothing at all, as if the command had not run; what a script reads stays empty."""
    empty = tmp_path / "empty.sqlite"
    Library(empty).close()
    assert library_command("list", "--library", str(empty)) == (0, "")
    assert f"note: the library {empty} holds no transcripts." in capsys.readouterr().err
    assert library_command("search", "budget", "--library", str(filled), "--json") == (0, "")
    assert f"note: no transcript in {filled} matches 'budget'." in capsys.readouterr().err
    assert library_command("list", "--library", str(filled), "--user", "anna") == (0, "")
    assert "holds no transcripts of anna." in capsys.readouterr().err
    code, found = library_command("search", "nine", "--library", str(filled))
    assert code == 0 and found and "note:" not in capsys.readouterr().err
