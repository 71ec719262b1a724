"""Folder batches: walk, write as files finish, resume, keep going past bad files, never overwrite."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from transcriber import cli
from transcriber.batch import (
    STATUS_COMPLETED, STATUS_COPIED, STATUS_DONE, STATUS_FAILED, STATUS_SKIPPED, collect_inputs, run_batch,
)
from transcriber.batch_state import DONE_DIR, INDEX_NAME, plan
from transcriber.engine import Engine
from transcriber.types import TranscribeOptions

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def wav(path: Path, seconds: float = 1.0, level: float = 0.01) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.full(round(seconds * 16000), level, dtype=np.float32), 16000)
    return path


@pytest.fixture
def recordings(tmp_path):
    root = tmp_path / "in"
    wav(root / "day1" / "talk.wav")
    wav(root / "day2" / "talk.wav", 2.0)
    wav(root / "day2" / "con.wav", level=0.02)  # not the bytes of day1's talk.wav: each is transcribed
    (root / "day2" / "notes.txt").write_text("not audio, and not picked up by the walk")
    (root / "day3").mkdir()
    (root / "day3" / "broken.mp3").write_bytes(b"ID3" + bytes(64))
    return root


def read_summary(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8-sig"))))


def test_walk_and_names(recordings, tmp_path):
    inputs = collect_inputs([recordings])
    assert [p.relative_to(recordings).as_posix() for p in inputs] == [
        "day1/talk.wav", "day2/con.wav", "day2/talk.wav", "day3/broken.mp3"
    ]
    out = tmp_path / "out"
    out.mkdir()
    assert [item.stem for item in plan(inputs, out)] == ["talk", "_con", "talk-2", "broken"]
    # An input keeps its name in later runs, whichever other inputs come along, so a resume finds its outputs.
    assert [item.stem for item in plan(inputs[2:3], out)] == ["talk-2"]
    assert [item.stem for item in plan(list(reversed(inputs)), out)] == ["broken", "talk-2", "_con", "talk"]


def test_folder_batch_writes_outputs_and_a_summary_and_survives_a_bad_file(recordings, tmp_path, tiny_rnnt):
    out = tmp_path / "out"
    rows = run_batch(Engine(device="cpu"), collect_inputs([recordings]), out, model=tiny_rnnt, formats=["txt", "srt"],
                     options=TranscribeOptions(timestamps=True, batch_size=2))
    assert [row.status for row in rows] == [STATUS_DONE, STATUS_DONE, STATUS_DONE, STATUS_FAILED]
    assert "broken.mp3" in rows[3].error
    names = sorted(p.name for p in out.iterdir())
    assert len([n for n in names if n.endswith(".txt")]) == 3 and "_con.srt" in names
    assert not [n for n in names if n.endswith(".part")]
    two_talks = [out / "talk.txt", out / "talk-2.txt"]
    counts = sorted(len(p.read_text().split()) for p in two_talks)  # one word per 0.08 s: 1 s and 2 s, no overwrite
    assert counts == [pytest.approx(12.5, abs=1), pytest.approx(25, abs=1)]
    summary = read_summary(out)
    assert [r["status"] for r in summary] == ["done", "done", "done", "failed"]
    assert float(summary[2]["duration"]) == pytest.approx(2.0)
    assert "broken.mp3" in summary[3]["error"]
    assert (out / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # a spreadsheet reads its names' accents


def test_a_resumed_batch_summary_keeps_the_durations_of_the_files_done_before(recordings, tmp_path, tiny_ctc):
    """summary.csv of a resumed run left the duration of every file done before empty, so the hours an archive holds
    could be added up only from its first run's summary."""
    inputs = collect_inputs([recordings])[:3]
    out = tmp_path / "out"
    run_batch(Engine(device="cpu"), inputs[:1], out, model=tiny_ctc, formats=["txt"])
    rows = run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in rows] == [STATUS_SKIPPED, STATUS_DONE, STATUS_DONE]
    summary = read_summary(out)
    assert [float(r["duration"]) for r in summary] == [pytest.approx(1.0), pytest.approx(1.0), pytest.approx(2.0)]
    assert [float(r["seconds"]) for r in summary][0] == 0.0  # no time spent on it now


def test_a_full_disk_stops_the_batch_in_one_sentence_and_the_same_command_then_finishes_it(
    recordings, small_disk, tiny_rnnt, capsys
):
    """No traceback, no half set of outputs that looks done; freed, the disk takes the rest on the next run."""
    out = small_disk / "out"
    command = [str(recordings), "--model", tiny_rnnt, "--out", str(out), "--timestamps"]
    filler = small_disk / "someone-elses.bin"
    filler.write_bytes(bytes(256 * 1024))  # as full as it gets: not even the batch's index fits
    assert cli.main(command) == cli.EXIT_SOME_FAILED
    assert f"error: Cannot write the batch index in {out}: No space left on device." in capsys.readouterr().err
    filler.write_bytes(bytes(240 * 1024))  # room for the index, not for a transcript
    assert cli.main(command) == cli.EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"Cannot write the outputs of talk.wav in {out}: No space left on device." in err
    assert "run the same command again" in err
    assert not list(out.glob("talk*"))  # nothing that looks like a finished transcript
    filler.unlink()
    assert cli.main(command) == cli.EXIT_SOME_FAILED  # broken.mp3
    assert [r["status"] for r in read_summary(out)] == ["done", "done", "done", "failed"]


def test_outputs_never_overwrite_a_file_that_was_there_nor_the_summary(tmp_path, tiny_rnnt):
    """--out the recordings' own folder, where the user keeps subtitles of their own; and a recording called summary."""
    folder = tmp_path / "films"
    movie, summary = wav(folder / "movie.wav"), wav(folder / "summary.wav", level=0.02)
    (folder / "movie.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nthe user's own subtitles\n")
    rows = run_batch(Engine(device="cpu"), [movie, summary], folder, model=tiny_rnnt, formats=["srt", "csv"])
    assert [row.status for row in rows] == [STATUS_DONE, STATUS_DONE]
    assert "the user's own subtitles" in (folder / "movie.srt").read_text()
    assert [path.name for path in rows[0].outputs] == ["movie-2.srt", "movie-2.csv"]
    assert [path.name for path in rows[1].outputs] == ["summary-2.srt", "summary-2.csv"]
    assert read_summary(folder)[1]["file"] == str(summary)  # the summary is the batch's, not summary.wav's CSV
    again = run_batch(Engine(device="cpu"), [movie, summary], folder, model=tiny_rnnt, formats=["srt", "csv"])
    assert [row.status for row in again] == [STATUS_SKIPPED, STATUS_SKIPPED]  # its own outputs are no stranger's


def test_subtitles_written_beside_videos_take_their_names_and_a_long_japanese_name_does_not_stop_the_batch(
    tmp_path, tiny_rnnt
):
    """A player loads ``NAME.srt`` with ``NAME.mp4``: "Family Trip (2019).mp4" got ``Family_Trip_2019.srt``. A
    recording named in 82 Japanese characters stopped the whole batch with "File name too long"."""
    from audio_fixtures import write_tone

    folder = tmp_path / "films"
    folder.mkdir()
    video = write_tone(folder / "Family Trip (2019).mp4", seconds=1.0)
    japanese = wav(folder / (("会議の記録" * 17)[:82] + ".wav"))
    after = wav(folder / "zz after.wav", level=0.02)
    rows = run_batch(Engine(device="cpu"), [video, japanese, after], folder, model=tiny_rnnt, formats=["srt", "docx"],
                     options=TranscribeOptions(timestamps=True))
    assert [row.status for row in rows] == [STATUS_DONE] * 3, [row.error for row in rows]
    assert [path.name for path in rows[0].outputs] == ["Family Trip (2019).srt", "Family Trip (2019).docx"]
    assert japanese.name.startswith(rows[1].outputs[0].stem) and rows[1].outputs[0].exists()
    assert (folder / "zz after.srt").is_file()


def test_a_run_with_other_settings_does_a_finished_file_again(tmp_path, tiny_rnnt):
    """Forgot --timestamps (or --speakers, or chose another model) and ran it again: the files are done again."""
    import json

    clip, out = [wav(tmp_path / "in" / "talk.wav")], tmp_path / "out"

    def run(**options):
        rows = run_batch(Engine(device="cpu"), clip, out, model=tiny_rnnt, formats=["json"],
                         options=TranscribeOptions(**options))
        return rows[0].status, json.loads((out / "talk.json").read_text(encoding="utf-8"))["words"]

    assert run() == (STATUS_DONE, [])
    status, words = run(timestamps=True)
    assert status == STATUS_DONE and words  # done again, now with its word timings
    assert run(timestamps=True) == (STATUS_SKIPPED, words)
    marker = out / DONE_DIR / "talk.json"  # a marker written before settings were recorded: trusted as it is
    marker.write_text(json.dumps({k: v for k, v in json.loads(marker.read_text()).items() if k != "settings"}))
    assert run()[0] == STATUS_SKIPPED


def plan_at_the_barrier(barrier, recording: Path, out: Path) -> str:
    barrier.wait()
    return plan([recording], out)[0].stem


@pytest.mark.skipif(sys.platform != "linux", reason="forks eight planners")
def test_runs_started_together_into_one_folder_never_share_a_name(tmp_path):
    """A cluster's array jobs, one per sub-folder of an archive, all writing into one --out: each read the index before
    the others wrote theirs, so several gave their talk.wav the name "talk" (overwriting each other's outputs) and
    the index kept the entries of one of them only."""
    import json
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(3):
        out = tmp_path / f"out-{trial}"
        out.mkdir()
        recordings = [wav(tmp_path / f"trial{trial}" / f"day{day}" / "talk.wav", 0.1) for day in range(8)]
        with context.Manager() as manager, context.Pool(len(recordings)) as pool:
            barrier = manager.Barrier(len(recordings))
            work = pool.starmap_async(plan_at_the_barrier, [(barrier, path, out) for path in recordings])
            stems = work.get(timeout=120)  # a planner stuck for good fails the test instead of hanging the suite
        assert sorted(stems) == ["talk"] + [f"talk-{n}" for n in range(2, 9)]
        index = json.loads((out / INDEX_NAME).read_text(encoding="utf-8"))
        assert {Path(key): stem for key, stem in index.items()} == dict(zip(recordings, stems, strict=True))


def test_a_run_that_must_wait_for_another_says_so(tmp_path, caplog):
    """The run holding the folder may take minutes (hashing a moved archive): the other waited without a word."""
    import logging
    import threading

    from transcriber.batch_state import index_lock

    out = tmp_path / "out"
    out.mkdir()
    planned = []
    with caplog.at_level(logging.WARNING, logger="transcriber.batch_state"), index_lock(out):
        waiting = threading.Thread(target=lambda: planned.extend(plan([wav(tmp_path / "talk.wav")], out)))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and planned == []  # it waits while the first holds the folder
        assert caplog.messages == [f"{out}: another run is naming its files there; waiting until it has"]
    waiting.join(timeout=10)
    assert [item.stem for item in planned] == ["talk"]


@pytest.mark.skipif(os.name == "nt", reason="flock")
def test_an_output_folder_that_cannot_be_locked_is_planned_as_before(tmp_path, tiny_ctc, monkeypatch):
    """Some network shares refuse locks (ENOLCK): the batch still runs there, as it did before it locked its index."""
    import errno
    import fcntl

    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))  # LOCK_NB or not

    monkeypatch.setattr(fcntl, "flock", no_locks)
    rows = run_batch(Engine(device="cpu"), [wav(tmp_path / "in" / "talk.wav")], tmp_path / "out", model=tiny_ctc,
                     formats=["txt"])
    assert [row.status for row in rows] == [STATUS_DONE]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_outputs_get_the_permissions_of_any_file_the_user_makes(tmp_path, tiny_ctc, umask, mode):
    """On a shared archive the team reads the transcripts; they could not: every output, the summary and the index
    were readable by their writer only (0600), whatever the umask said."""
    old = os.umask(umask)
    try:
        (row,) = run_batch(Engine(device="cpu"), [wav(tmp_path / "in" / "talk.wav")], tmp_path / "out",
                           model=tiny_ctc, formats=["txt", "srt", "docx"])
    finally:
        os.umask(old)
    out = tmp_path / "out"
    written = [*row.outputs, out / "summary.csv", out / INDEX_NAME, out / DONE_DIR / "talk.json"]
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in written} == {
        path.name: oct(mode) for path in written}


def test_recordings_that_moved_are_found_done_not_transcribed_again(recordings, tmp_path, tiny_ctc):
    """The archive went to another folder, or its drive got another letter: the same command with the new path
    finds every finished file done, under the names its outputs already have."""
    out, engine = tmp_path / "out", Engine(device="cpu")
    wav(recordings / "day4" / "talk.wav")  # the same bytes and name as day1's (a copy): each keeps its own outputs
    first = run_batch(engine, collect_inputs([recordings]), out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in first] == [STATUS_DONE, STATUS_DONE, STATUS_DONE, STATUS_FAILED, STATUS_COPIED]
    names = [[path.name for path in row.outputs] for row in first]
    before = sorted(path.name for path in out.iterdir())

    (tmp_path / "drive-f").mkdir()
    moved = recordings.rename(tmp_path / "drive-f" / "archive")
    rows = run_batch(engine, collect_inputs([moved]), out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in rows] == [STATUS_SKIPPED] * 3 + [STATUS_FAILED, STATUS_SKIPPED]
    assert [[path.name for path in row.outputs] for row in rows] == names
    assert names == [["talk.txt"], ["_con.txt"], ["talk-2.txt"], [], ["talk-3.txt"]]
    assert sorted(path.name for path in out.iterdir()) == before  # no talk-4.txt beside them
    assert [r["file"] for r in read_summary(out)] == [str(path) for path in collect_inputs([moved])]


def test_a_copy_or_a_changed_recording_gets_a_name_of_its_own(recordings, tmp_path, tiny_rnnt):
    out, engine = tmp_path / "out", Engine(device="cpu")
    talk = recordings / "day1" / "talk.wav"
    run_batch(engine, [talk], out, model=tiny_rnnt, formats=["txt"])
    copy = tmp_path / "copy" / "talk.wav"
    copy.parent.mkdir()
    copy.write_bytes(talk.read_bytes())  # the first is still where it was: the copy is another input
    (row,) = run_batch(engine, [copy], out, model=tiny_rnnt, formats=["txt"])
    assert (row.status, [path.name for path in row.outputs]) == (STATUS_COPIED, ["talk-2.txt"])
    assert (out / "talk-2.txt").read_text() == (out / "talk.txt").read_text()

    moved = tmp_path / "moved" / "talk.wav"
    moved.parent.mkdir()
    talk.rename(moved)
    wav(moved, 3.0)  # moved, and re-recorded: not the file that was done
    (row,) = run_batch(engine, [moved], out, model=tiny_rnnt, formats=["txt"])
    assert (row.status, [path.name for path in row.outputs]) == (STATUS_DONE, ["talk-3.txt"])
    # one word per 0.08 s: the new transcript is of the 3 s now there, not the 1 s done before
    assert len((out / "talk-3.txt").read_text().split()) == pytest.approx(37.5, abs=1)


class CountedEngine(Engine):
    """The real engine, counting the files it is asked to transcribe."""

    def __init__(self) -> None:
        super().__init__(device="cpu")
        self.asked: list[str] = []

    def transcribe_files(self, files, **kwargs):
        self.asked += [Path(file).name for file in files]
        return super().transcribe_files(files, **kwargs)


def test_a_recording_renamed_after_it_was_done_is_not_transcribed_again(tmp_path, tiny_ctc):
    """Recordings named by the recorder (REC001.WAV) renamed to say what they are, then the archive's command run
    again: each was transcribed again, whole (hours on a CPU), though the folder's done markers hold the transcript of
    those very bytes. Its outputs take its new name and come from that transcript."""
    from transcriber.batch_state import read_marker

    archive, out = tmp_path / "archive", tmp_path / "out"
    first = [wav(archive / "REC001.WAV", 1.0), wav(archive / "REC002.WAV", 2.0), wav(archive / "REC003.WAV", 1.5)]
    timed = TranscribeOptions(timestamps=True)
    run_batch(Engine(device="cpu"), first, out, model=tiny_ctc, formats=["txt", "srt"], options=timed)
    budget = first[0].rename(archive / "2026-03-02 budget call.wav")
    visit = first[1].rename(archive / "site visit.wav")
    wav(archive / "REC004.WAV", 2.5)  # recorded since: new audio

    engine = CountedEngine()
    rows = run_batch(engine, collect_inputs([archive]), out, model=tiny_ctc, formats=["txt", "srt"], options=timed)
    assert [(Path(row.file).name, row.status) for row in rows] == [
        (budget.name, STATUS_COPIED), ("REC003.WAV", STATUS_SKIPPED), ("REC004.WAV", STATUS_DONE),
        (visit.name, STATUS_COPIED),
    ]
    assert engine.asked == ["REC004.WAV"]
    assert [row.same_as for row in rows] == [str(first[0]), "", "", str(first[1])]
    for old, new in (("REC001", "2026-03-02 budget call"), ("REC002", "site visit")):
        for suffix in (".txt", ".srt"):
            assert (out / f"{new}{suffix}").read_text(encoding="utf-8") == (out / f"{old}{suffix}").read_text(
                encoding="utf-8")
    assert [r["status"] for r in read_summary(out)] == [STATUS_COPIED, STATUS_SKIPPED, STATUS_DONE, STATUS_COPIED]
    assert read_summary(out)[0]["duration"] == "1.000"

    again = CountedEngine()
    rows = run_batch(again, collect_inputs([archive]), out, model=tiny_ctc, formats=["txt", "srt"], options=timed)
    assert [row.status for row in rows] == [STATUS_SKIPPED] * 4 and again.asked == []
    assert read_marker(plan([budget], out)[0], out)["same_as"] == str(first[0])
    other = run_batch(again, [visit], out, model=tiny_ctc, formats=["txt"])  # other settings: transcribed
    assert [row.status for row in other] == [STATUS_DONE] and again.asked == ["site visit.wav"]


def test_copies_in_one_run_are_transcribed_once(tmp_path, tiny_ctc, capsys):
    """A phone's backup holds the same memo in two folders: the second copy gets the first's transcript, and a copy of
    a file that fails fails with it, by name."""
    archive, out = tmp_path / "backup", tmp_path / "out"
    memo = wav(archive / "Recordings" / "memo.m4a.wav", 2.0)
    wav(archive / "Recordings" / "other.wav", 2.0, level=0.03)  # the same size, other bytes
    (archive / "Shared" / "memo copy.wav").parent.mkdir()
    (archive / "Shared" / "memo copy.wav").write_bytes(memo.read_bytes())
    for folder in ("Recordings", "Shared"):
        (archive / folder / "broken.mp3").write_bytes(b"ID3" + bytes(64))
    # a recorder's chunks: one size, the same first seconds (well past the first megabyte), other last ones
    for name, level in (("chunk-1.wav", 0.01), ("chunk-2.wav", 0.02)):
        sf.write(archive / "Recordings" / name, np.r_[np.zeros(38 * 16000), np.full(16000, level)], 16000)
    engine = CountedEngine()
    rows = run_batch(engine, collect_inputs([archive]), out, model=tiny_ctc, formats=["txt"])
    assert [(Path(row.file).name, row.status) for row in rows] == [
        ("broken.mp3", STATUS_FAILED), ("chunk-1.wav", STATUS_DONE), ("chunk-2.wav", STATUS_DONE),
        ("memo.m4a.wav", STATUS_DONE), ("other.wav", STATUS_DONE),
        ("broken.mp3", STATUS_FAILED), ("memo copy.wav", STATUS_COPIED),
    ]
    assert sorted(engine.asked) == ["broken.mp3", "chunk-1.wav", "chunk-2.wav", "memo.m4a.wav", "other.wav"]
    assert rows[5].error == "not transcribed: the same audio as broken.mp3, which failed"
    assert (out / "memo copy.txt").read_text() == (out / "memo.m4a.txt").read_text()
    assert rows[6].same_as == str(memo.absolute())

    assert cli.main([str(archive), "--model", tiny_ctc, "--out", str(tmp_path / "cli"), "--formats", "txt"]) == 1
    err = capsys.readouterr().err
    assert "Shared/memo copy.wav: the same audio as " in err and "Recordings/memo.m4a.wav; its outputs come" in err
    assert "4 transcribed, 0 already done, 1 the same audio as another file, 2 failed" in err


def test_a_recording_that_changed_since_it_was_done_is_done_again(tmp_path, tiny_rnnt):
    """A batch started while the archive was still being copied in transcribed a file cut short, and every later run
    skipped it as done; so was a recording re-exported over the old one (noise taken out, the same length)."""
    from transcriber.batch_state import read_marker

    talk, out = wav(tmp_path / "in" / "talk.wav", 1.0), tmp_path / "out"

    def run() -> tuple[str, int]:
        (row,) = run_batch(Engine(device="cpu"), [talk], out, model=tiny_rnnt, formats=["txt"])
        return row.status, len((out / "talk.txt").read_text().split())  # one word per 0.08 s

    def later(seconds: float) -> None:
        stamp = talk.stat().st_mtime + seconds
        os.utime(talk, (stamp, stamp))

    assert run() == (STATUS_DONE, pytest.approx(12.5, abs=1))
    wav(talk, 3.0)  # the rest of it had not been copied yet
    assert run() == (STATUS_DONE, pytest.approx(37.5, abs=1))
    assert run()[0] == STATUS_SKIPPED
    size = talk.stat().st_size
    sf.write(talk, np.full(3 * 16000, 0.02, dtype=np.float32), 16000)  # re-exported: other bytes, the same size
    later(10)
    assert (talk.stat().st_size, run()[0]) == (size, STATUS_DONE)
    later(10)  # only touched (or copied): its bytes are the same, so it stays done, and is not read again next time
    assert run()[0] == STATUS_SKIPPED
    marker = read_marker(plan([talk], out)[0], out)
    assert marker["mtime_ns"] == talk.stat().st_mtime_ns and (out / DONE_DIR / "talk.json").is_file()


def test_an_interrupted_batch_resumes_without_redoing_finished_files(recordings, tmp_path, tiny_ctc):
    out = tmp_path / "out"
    inputs = collect_inputs([recordings])
    seen = []

    def interrupt_after_first(row):
        seen.append(row)
        if len(seen) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"],
                  options=TranscribeOptions(batch_size=1), on_file=interrupt_after_first)
    assert [r["status"] for r in read_summary(out)] == ["done"]
    first_output = out / "talk.txt"
    stamp = first_output.stat().st_mtime_ns

    rows = run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"], options=TranscribeOptions(batch_size=1))
    assert [row.status for row in rows] == [STATUS_SKIPPED, STATUS_DONE, STATUS_DONE, STATUS_FAILED]
    assert first_output.stat().st_mtime_ns == stamp

    engine = Engine(device="cpu")
    again = run_batch(engine, inputs[:3], out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in again] == [STATUS_SKIPPED] * 3
    assert engine.cache.loads == 0  # nothing to do, so no model was loaded


def test_formats_added_later_or_an_output_lost_are_written_from_the_done_markers(recordings, tmp_path, tiny_ctc):
    """An archive done as text, wanted later with subtitles and Word documents too: every file was transcribed again
    (days of work for an archive), though its done marker holds its transcript. The missing outputs are written
    from it, with no model loaded, as a new run would write them; so is an output deleted by mistake."""
    inputs = collect_inputs([recordings])[:3]
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    timed = TranscribeOptions(timestamps=True)
    run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"], options=timed)
    engine = Engine(device="cpu")
    rows = run_batch(engine, inputs, out, model=tiny_ctc, formats=["txt", "srt", "docx"], options=timed)
    assert engine.cache.loads == 0
    assert [row.status for row in rows] == [STATUS_COMPLETED] * 3
    assert [r["status"] for r in read_summary(out)] == [STATUS_COMPLETED] * 3
    assert [len(row.outputs) for row in rows] == [3, 3, 3]
    assert all(path.is_file() for row in rows for path in row.outputs)
    run_batch(Engine(device="cpu"), inputs, fresh, model=tiny_ctc, formats=["srt"], options=timed)
    for stem in ("talk", "_con", "talk-2"):
        assert (out / f"{stem}.srt").read_text(encoding="utf-8") == (fresh / f"{stem}.srt").read_text(encoding="utf-8")
    (out / "talk-2.srt").unlink()
    again = run_batch(engine, inputs, out, model=tiny_ctc, formats=["txt", "srt", "docx"], options=timed)
    assert [row.status for row in again] == [STATUS_SKIPPED, STATUS_SKIPPED, STATUS_COMPLETED]
    assert (out / "talk-2.srt").read_text(encoding="utf-8") == (fresh / "talk-2.srt").read_text(encoding="utf-8")
    assert engine.cache.loads == 0
    other = run_batch(engine, inputs[:1], out, model=tiny_ctc, formats=["txt", "json"])  # without timestamps: redone
    assert [row.status for row in other] == [STATUS_DONE] and engine.cache.loads == 1


def test_outputs_a_power_cut_left_empty_are_written_again_from_the_done_markers(tmp_path, tiny_ctc, tiny_rnnt_blank):
    """A laptop whose battery ran out during a batch: files renamed into place just before were empty after the
    restart (their bytes had not reached the disk), and the next run passed them over as done. An empty output is
    written again from its done marker; the empty text and subtitles of a file without speech are what it is."""
    talk, quiet = wav(tmp_path / "in" / "talk.wav"), wav(tmp_path / "in" / "quiet.wav")
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    formats = ["txt", "srt", "vtt", "json", "csv", "docx"]
    run_batch(Engine(device="cpu"), [talk], out, model=tiny_ctc, formats=formats)
    run_batch(Engine(device="cpu"), [talk], fresh, model=tiny_ctc, formats=formats)
    written = {path.name: path.read_bytes() for path in sorted(fresh.glob("talk.*"))}
    assert len(written) == len(formats)
    for name in written:
        (out / name).write_bytes(b"")  # what the power cut left
    engine = Engine(device="cpu")
    rows = run_batch(engine, [talk], out, model=tiny_ctc, formats=formats)
    assert [row.status for row in rows] == [STATUS_COMPLETED] and engine.cache.loads == 0
    assert {name: (out / name).read_bytes() for name in written if not name.endswith(".docx")} == {
        name: data for name, data in written.items() if not name.endswith(".docx")}
    assert (out / "talk.docx").stat().st_size > 1000  # a document again (it records when it was written)

    silent = tmp_path / "silent"
    run_batch(Engine(device="cpu"), [quiet], silent, model=tiny_rnnt_blank, formats=formats)
    assert (silent / "quiet.txt").read_bytes() == b"" == (silent / "quiet.srt").read_bytes()
    rows = run_batch(engine, [quiet], silent, model=tiny_rnnt_blank, formats=formats)
    assert [row.status for row in rows] == [STATUS_SKIPPED] and engine.cache.loads == 0


def test_a_damaged_done_marker_has_its_file_done_again_and_stops_nothing(recordings, tmp_path, tiny_ctc):
    """A marker left empty by a power cut (or garbled on a network drive) stopped every later run of the batch with a
    JSONDecodeError traceback before any file was done: its file is simply done again."""
    inputs = collect_inputs([recordings])[:3]
    out = tmp_path / "out"
    run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"])
    (out / DONE_DIR / "talk.json").write_bytes(b"")
    (out / DONE_DIR / "_con.json").write_text('{"file": "unfinished', encoding="utf-8")
    rows = run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in rows] == [STATUS_DONE, STATUS_DONE, STATUS_SKIPPED]
    again = run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in again] == [STATUS_SKIPPED] * 3


def test_a_done_marker_whose_transcript_cannot_be_read_has_its_file_done_again(tmp_path, tiny_ctc):
    """A marker that reads but whose transcript inside it does not (edited by hand, cut short): a copy of its
    recording, or a format added later, stopped the run with a traceback where outputs are written from that
    transcript. The copy, and the file, are transcribed instead, and found done the next time."""
    archive, out = tmp_path / "archive", tmp_path / "out"
    memo, call = wav(archive / "memo.wav", 1.0), wav(archive / "call.wav", 2.0)
    run_batch(Engine(device="cpu"), [memo, call], out, model=tiny_ctc, formats=["txt"])
    for stem, damaged in (("memo", '{"text": "cut sho'), ("call", "{}")):
        marker = json.loads((out / DONE_DIR / f"{stem}.json").read_text(encoding="utf-8"))
        (out / DONE_DIR / f"{stem}.json").write_text(json.dumps({**marker, "transcript": damaged}), encoding="utf-8")
    copy = archive / "call copy.wav"
    copy.write_bytes(call.read_bytes())

    engine = CountedEngine()
    rows = run_batch(engine, [memo, copy], out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in rows] == [STATUS_SKIPPED, STATUS_DONE] and engine.asked == ["call copy.wav"]
    engine = CountedEngine()
    rows = run_batch(engine, [memo, copy], out, model=tiny_ctc, formats=["txt", "srt"])
    assert [row.status for row in rows] == [STATUS_DONE, STATUS_COMPLETED] and engine.asked == ["memo.wav"]
    assert all((out / name).is_file() for name in ("memo.txt", "memo.srt", "call copy.txt", "call copy.srt"))
    again = CountedEngine()
    rows = run_batch(again, [memo, copy], out, model=tiny_ctc, formats=["txt", "srt"])
    assert [row.status for row in rows] == [STATUS_SKIPPED] * 2 and again.asked == []


def test_a_damaged_index_is_made_again_from_the_done_markers(recordings, tmp_path, tiny_ctc):
    """The index of which input got which output name, left empty by a power cut, stopped every later run with a
    traceback; the markers say which file each finished name belongs to, so nothing is done again or renamed."""
    inputs = collect_inputs([recordings])[:3]
    out = tmp_path / "out"
    run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"])
    for damage in (b"", b'{"/some/file.wav": "x", ', b"[1, 2]"):
        (out / INDEX_NAME).write_bytes(damage)
        engine = Engine(device="cpu")
        rows = run_batch(engine, inputs, out, model=tiny_ctc, formats=["txt"])
        assert [row.status for row in rows] == [STATUS_SKIPPED] * 3 and engine.cache.loads == 0
        assert [item.stem for item in plan(inputs, out)] == ["talk", "_con", "talk-2"]
    (out / INDEX_NAME).write_bytes(b"")
    (out / DONE_DIR / "_con.json").unlink()  # never finished: done again, under a name no output has
    rows = run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"])
    assert [row.status for row in rows] == [STATUS_SKIPPED, STATUS_DONE, STATUS_SKIPPED]
    assert [path.name for path in rows[1].outputs] == ["_con-2.txt"] and (out / "_con.txt").is_file()


def test_the_command_says_which_files_got_their_missing_outputs(recordings, tmp_path, tiny_ctc, capsys):
    out = tmp_path / "out"
    assert cli.main([str(recordings / "day2"), "--model", tiny_ctc, "--out", str(out), "--formats", "txt"]) == 0
    capsys.readouterr()
    assert cli.main([str(recordings / "day2"), "--model", tiny_ctc, "--out", str(out), "--formats", "txt,vtt"]) == 0
    err = capsys.readouterr().err
    said = "0 transcribed, 2 already done (2 of them given their missing outputs from their done markers), 0 failed"
    assert said in err
    assert sorted(path.name for path in out.glob("*.vtt")) == ["_con.vtt", "talk.vtt"]


HALF_WRITE = """
import os, pathlib, sys, time
def stuck(*_):
    print("writing", flush=True)
    time.sleep(120)
os.replace = stuck  # the rename never comes: the writer is killed with its temporary file on disk
from transcriber.outputs import atomic_write_text
atomic_write_text(pathlib.Path(sys.argv[1]), "half of a transcript")
"""


def test_a_resumed_batch_removes_what_a_killed_run_half_wrote(recordings, tmp_path, tiny_ctc):
    out = tmp_path / "out"
    out.mkdir()
    inputs = collect_inputs([recordings])
    assert plan(inputs, out)[0].stem == "talk"
    writer = subprocess.Popen([sys.executable, "-c", HALF_WRITE, str(out / "talk.txt")], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        assert writer.stdout.readline() == "writing\n"
    finally:
        writer.kill()
        writer.communicate(timeout=30)
    half_written = [p.name for p in out.glob(".talk.txt.*.part")]
    assert len(half_written) == 1 and (out / half_written[0]).read_text() == "half of a transcript"
    theirs = ["talk.txt.part", ".notes.part", "talk.part"]  # the user's own files, whatever their names
    for name in theirs:
        (out / name).write_text("not ours")

    rows = run_batch(Engine(device="cpu"), inputs, out, model=tiny_ctc, formats=["txt"],
                     options=TranscribeOptions(batch_size=1))
    assert [row.status for row in rows] == [STATUS_DONE, STATUS_DONE, STATUS_DONE, STATUS_FAILED]
    assert (out / "talk.txt").read_text(encoding="utf-8").strip()  # the transcript, not the half-written file
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".part")) == sorted(theirs)
    assert all((out / name).read_text() == "not ours" for name in theirs)


def test_cli_out_mode(recordings, tmp_path, tiny_ctc, capsys):
    out = tmp_path / "cli-out"
    code = cli.main([str(recordings), "--model", tiny_ctc, "--out", str(out), "--formats", "txt,json", "--device", "cpu"])
    assert code == cli.EXIT_SOME_FAILED  # broken.mp3
    assert len(list(out.glob("*.json"))) == 3
    assert "3 transcribed, 0 already done, 1 failed" in capsys.readouterr().err
    code = cli.main([str(recordings / "day1"), "--model", tiny_ctc, "--out", str(out), "--formats", "txt,json"])
    assert code == cli.EXIT_OK
    assert "0 transcribed, 1 already done, 0 failed" in capsys.readouterr().err


def test_a_batch_whose_terminal_is_a_log_says_each_file_as_it_is_done(recordings, tmp_path, tiny_ctc, capsys,
                                                                     monkeypatch):
    """Run as a cluster job, under nohup or as a service, stderr is a file and tqdm draws no bar there: a batch of
    thousands of files said nothing in its log until its last line, hours later, so no one could tell it was working.
    Each file is named by its path from where the command ran: the two ``talk.wav`` of two days are two files."""
    monkeypatch.chdir(recordings.parent)
    code = cli.main([recordings.name, "--model", tiny_ctc, "--out", "out", "--batch-size", "1"])
    stderr = capsys.readouterr().err  # not a terminal, as a log file is not
    assert code == cli.EXIT_SOME_FAILED, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("[")]
    shown = [os.path.join("in", *name.split("/")) for name in ("day1/talk.wav", "day2/con.wav", "day2/talk.wav")]
    assert [re.sub(r"in [0-9.]+ s", "in T s", line) for line in lines] == [
        f"[1/4] {shown[0]}: 1.0 s of audio in T s", f"[2/4] {shown[1]}: 1.0 s of audio in T s",
        f"[3/4] {shown[2]}: 2.0 s of audio in T s", f"[4/4] {lines[3][6:]}",
    ]
    assert lines[3].startswith(f"[4/4] {os.path.join('in', 'day3', 'broken.mp3')}: not a readable audio file")


def test_a_long_file_in_a_log_says_where_it_is_now_and_then(tmp_path, tiny_ctc, capsys, monkeypatch):
    """A three-hour lecture takes many minutes: between its file's lines the log said nothing, as if the run hung."""
    from transcriber import batch_cli

    lecture = wav(tmp_path / "in" / "lecture.wav", 200.0)
    args = [str(lecture), "--model", tiny_ctc, "--formats", "txt"]
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == cli.EXIT_OK
    parts = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Transcribing lecture.wav")]
    assert len(parts) == 1 and parts[0].startswith("Transcribing lecture.wav (part 1 of ")  # then a minute apart

    monkeypatch.setattr(batch_cli, "PART_LINE_EVERY_S", 0.0)
    assert cli.main([*args, "--out", str(tmp_path / "again")]) == cli.EXIT_OK
    parts = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Transcribing lecture.wav")]
    found = [re.fullmatch(r"Transcribing lecture\.wav \(part (\d+) of (\d+)\)", line) for line in parts]
    numbers = [int(match[1]) for match in found]
    assert len({match[2] for match in found}) == 1  # of one number of parts throughout
    assert len(numbers) >= 2 and numbers[0] == 1 and numbers == sorted(set(numbers))  # each report, in order


def test_cli_rejects_unknown_formats(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["a.wav", "--out", "x", "--formats", "txt,pdf"])
    assert exit_info.value.code == cli.EXIT_USAGE
