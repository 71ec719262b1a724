"""``python -m transcriber`` with a real tiny model."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from transcriber import cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def torch_sees_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def wav(path: Path, seconds: float, level: float = 0.01) -> str:
    sf.write(path, np.zeros(round(seconds * 16000), dtype=np.float32) + level, 16000)
    return str(path)


def run_cli(*args: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = cli.main(list(args), out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_in_input_order_with_timings(tiny_rnnt, tmp_path):
    a = wav(tmp_path / "a.wav", 1.0)
    b = wav(tmp_path / "b.wav", 2.0)
    code, lines = run_cli(b, a, "--model", tiny_rnnt, "--timestamps", "--json", "--device", "cpu")
    assert code == cli.EXIT_OK
    assert [line["file"] for line in lines] == [b, a]
    assert set(lines[0]) == {"file", "text", "duration", "words", "segments", "language", "task", "error"}
    assert (lines[0]["language"], lines[0]["task"]) == ("auto", "transcribe")
    assert lines[0]["error"] is None
    assert lines[0]["duration"] == pytest.approx(2.0)
    assert lines[0]["text"].startswith("nine")
    first = lines[0]["words"][0]
    assert set(first) == {"word", "start", "end"} and first["word"] == "nine"
    assert lines[0]["segments"][0]["start"] == 0.0


def test_without_timestamps_words_and_segments_are_empty(tiny_ctc, tmp_path):
    code, (line,) = run_cli(wav(tmp_path / "a.wav", 1.0), "--model", tiny_ctc, "--json", "--device", "cpu")
    assert code == cli.EXIT_OK
    assert line["words"] == [] and line["segments"] == [] and line["text"] == "nine"


def test_a_bad_file_exits_1_and_the_rest_is_still_printed(tiny_ctc, tmp_path, capsys):
    good = wav(tmp_path / "good.wav", 1.0)
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + bytes(100))
    code, lines = run_cli(str(bad), good, "--model", tiny_ctc, "--json", "--device", "cpu")
    assert code == cli.EXIT_SOME_FAILED
    assert lines[0]["file"] == str(bad) and "broken.flac" in lines[0]["error"]
    assert lines[1]["error"] is None and lines[1]["text"] == "nine"
    assert "broken.flac" in capsys.readouterr().err


def test_an_error_says_which_of_two_recordings_of_one_name_failed(tiny_ctc, tmp_path, capsys, monkeypatch):
    """An archive holds a ``memo.wav`` in every day's folder: "memo.wav: not a readable audio file" did not say which
    of them to look at. Lines name a file by its path from the current folder, else by its whole path."""
    for day in ("monday", "tuesday"):
        (tmp_path / day).mkdir()
    wav(tmp_path / "monday" / "memo.wav", 1.0)
    (tmp_path / "tuesday" / "memo.wav").write_bytes(b"RIFF" + bytes(100))
    monkeypatch.chdir(tmp_path)
    code, lines = run_cli(os.path.join("monday", "memo.wav"), os.path.join("tuesday", "memo.wav"), "--model", tiny_ctc,
                          "--json", "--device", "cpu")
    assert code == cli.EXIT_SOME_FAILED and lines[0]["error"] is None
    err = capsys.readouterr().err.splitlines()
    assert f"{os.path.join('tuesday', 'memo.wav')}: not a readable audio file" in "\n".join(err)
    assert not [line for line in err if line.startswith("memo.wav")]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run_cli(str(tmp_path / "tuesday" / "memo.wav"), "--model", tiny_ctc, "--json", "--device", "cpu")
    assert f"{tmp_path / 'tuesday' / 'memo.wav'}: not a readable audio file" in capsys.readouterr().err


def test_plain_output_heads_each_file_by_its_path_from_here(tiny_ctc, tmp_path, monkeypatch):
    """``python -m transcriber monday/memo.wav tuesday/memo.wav`` headed them "== /home/anna/.../monday/memo.wav",
    unlike the lines on stderr: each is headed as its errors name it, by its path from the current folder."""
    for day in ("monday", "tuesday"):
        (tmp_path / day).mkdir()
        wav(tmp_path / day / "memo.wav", 1.0)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert cli.main([os.path.join("monday", "memo.wav"), str(tmp_path / "tuesday" / "memo.wav"), "--model", tiny_ctc,
                     "--device", "cpu"], out=out) == 0
    heads = [line for line in out.getvalue().splitlines() if line.startswith("== ")]
    assert heads == [f"== {os.path.join('monday', 'memo.wav')}", f"== {os.path.join('tuesday', 'memo.wav')}"]


def test_a_missing_model_fails_every_file_with_one_clear_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSCRIBER_MODEL_DIR", str(tmp_path))
    code, (line,) = run_cli(wav(tmp_path / "a.wav", 1.0), "--model", str(tmp_path / "nope.nemo"), "--json")
    assert code == cli.EXIT_SOME_FAILED
    assert "nope.nemo does not exist" in line["error"]


@pytest.mark.parametrize("out", [False, True])
def test_a_file_name_longer_than_a_name_may_be_fails_in_one_sentence_and_the_rest_is_done(out, tiny_ctc, tmp_path,
                                                                                           capsys):
    """A mistyped or pasted name of 300 letters: asking whether it was a folder raised "File name too long" and the
    command ended in a traceback before transcribing anything."""
    too_long = str(tmp_path / ("x" * 300 + ".wav"))
    args = [too_long, wav(tmp_path / "good.wav", 1.0), "--model", tiny_ctc, "--library", str(tmp_path / "l.sqlite")]
    code = cli.main([*args, "--out", str(tmp_path / "out")] if out else [*args, "--json"], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == cli.EXIT_SOME_FAILED and "Traceback" not in err
    assert f"{'x' * 300}.wav: cannot be opened (File name too long)" in err
    if out:
        assert "1 transcribed, 0 already done, 1 failed" in err


@pytest.mark.parametrize("model", ["x" * 300, "FOLDER/" + "x" * 300 + ".nemo"])
def test_a_model_name_longer_than_a_file_name_may_be_fails_in_one_sentence(model, tmp_path, capsys):
    """Looking such a name up on disk raised "OSError: File name too long" and the command ended in a traceback."""
    model = model.replace("FOLDER", str(tmp_path))
    code, (line,) = run_cli(wav(tmp_path / "a.wav", 1.0), "--model", model, "--json")
    assert code == cli.EXIT_SOME_FAILED
    assert line["error"].endswith(("is not installed, and NeMo has no pretrained model of that name. See the installed "
                                   "ones with: python setup_local_models.py --installed, or give a .nemo file by its "
                                   "path.", "cannot be looked up: File name too long."))
    assert "Traceback" not in capsys.readouterr().err


def test_a_model_name_nemo_does_not_know_says_so_and_how_to_see_the_installed_ones(tmp_path, monkeypatch):
    # Through NeMo's own from_pretrained, which looks names without a "/" up in its list of pretrained models.
    monkeypatch.setenv("TRANSCRIBER_MODEL_DIR", str(tmp_path))
    code, (line,) = run_cli(wav(tmp_path / "a.wav", 1.0), "--model", "parakeet-typo", "--json", "--device", "cpu")
    assert code == cli.EXIT_SOME_FAILED
    assert "parakeet-typo is not installed, and NeMo has no pretrained model of that name" in line["error"]
    assert "setup_local_models.py --installed" in line["error"]
    assert "--download parakeet-typo" not in line["error"] and "cls.list_available_models" not in line["error"]


@pytest.mark.parametrize("args", [[], ["a.wav", "--batch-size", "0"], ["a.wav", "--bogus"]])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, said", [
    ("--timeout", "inf", "must be a number of seconds up to 100000000"),  # ended in an OverflowError traceback
    ("--timeout", "1e12", "must be a number of seconds up to 100000000"),
    ("--timeout", "nan", "must be a number of seconds up to 100000000"),
    ("--batch-size", "99999999999999999999", "must be 1 to 1024"),  # failed every file with an islice() error
    ("--batch-size", "0", "must be 1 to 1024"),
])
def test_numbers_out_of_range_are_usage_errors(flag, value, said, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["a.wav", flag, value])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert f"argument {flag}: {said}, got {value}" in capsys.readouterr().err


def test_the_apps_timeout_takes_the_same_seconds(capsys):
    from transcriber_ui.app import build_parser

    assert build_parser().parse_args(["--timeout", "90"]).timeout == 90.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--timeout", "inf"])
    assert "argument --timeout: must be a number of seconds up to 100000000, got inf" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["https://example.com/talk.mp3", "http://192.168.1.5/meeting.wav?dl=1"])
def test_a_web_address_is_a_usage_error_that_says_to_download_it(address, capsys):
    """Pasted links were taken for file names: "talk.mp3: file not found", of a path with its // collapsed."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main([address])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert (f"error: {address} is a web address; this command transcribes files on this computer: download it "
            "first") in capsys.readouterr().err


@pytest.mark.parametrize("args, says", [
    (["--formats", "docx"], "--formats chooses the files --out writes: give --out DIR"),
    (["--json", "--out", "x"], "--json prints to the terminal; with --out DIR the JSON files are written there"),
    (["--no-keep-audio"], "--no-keep-audio needs --library PATH"),
    (["--workers", "2", "--cpus-per-worker", "2"], "--workers and --cpus-per-worker apply to --backend ray only"),
    (["--ray-address", "auto"], "--ray-address applies to --backend ray only"),
    (["--device", "cpu", "--precision", "bf16"], "--precision bf16 is for CUDA; the CPU always runs fp32"),
    (["--device", "cuda", "--int8"], "--int8 quantises for the CPU; on CUDA choose --precision"),
])
def test_a_flag_that_would_do_nothing_is_a_usage_error(args, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["a.wav", *args])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert f"error: {says}" in capsys.readouterr().err


@pytest.mark.parametrize("flag, folder, purpose", [("--out", "a.wav", "the outputs"),
                                                   ("--out", "a.wav/sub", "the outputs"),
                                                   ("--temp-dir", "a.wav", "temporary files")])
def test_a_folder_that_cannot_be_made_is_a_usage_error_naming_it(flag, folder, purpose, tmp_path, capsys):
    clip = wav(tmp_path / "a.wav", 1.0)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([clip, flag, str(tmp_path / folder)])
    assert exit_info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"error: Cannot write {purpose} into {tmp_path / folder}: {clip} is a file, not a folder." in err
    assert "Traceback" not in err and Path(clip).read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize("flag, purpose", [("--out", "Cannot write the outputs into"),
                                           ("--temp-dir", "Cannot write temporary files into"),
                                           ("--library", "Cannot open the library")])
def test_a_folder_or_library_named_longer_than_a_name_may_be_is_said_in_a_sentence(flag, purpose, tmp_path, capsys):
    """A pasted path of 300 letters: asking what stood in the way raised "File name too long" in a traceback."""
    too_long = tmp_path / ("x" * 300)
    code = None
    try:
        code = cli.main([wav(tmp_path / "a.wav", 1.0), flag, str(too_long)], out=io.StringIO())
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert code in (cli.EXIT_USAGE, cli.EXIT_SOME_FAILED) and "Traceback" not in err
    assert f"{purpose} {too_long}" in err
    assert "File name too long" in err or (flag == "--library" and "unable to open database file" in err)


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that exists but takes no file: sysfs on Linux (even for root, who may write anywhere else), else a
    folder without write permission."""
    if Path("/sys/kernel").is_dir():
        return Path("/sys/kernel")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("flag, purpose", [("--out", "the outputs"), ("--temp-dir", "temporary files")])
def test_a_folder_that_exists_but_takes_no_file_is_said_before_anything_loads(flag, purpose, tmp_path, capsys):
    folder = unwritable_folder(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([wav(tmp_path / "a.wav", 1.0), flag, str(folder)])
    assert exit_info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"error: Cannot write {purpose} into {folder}: " in err and "Traceback" not in err


@pytest.mark.skipif(torch_sees_cuda(), reason="this machine has a CUDA GPU, so --device cuda is right here")
def test_device_cuda_without_a_cuda_gpu_is_a_usage_error_not_a_broken_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([wav(tmp_path / "a.wav", 1.0), "--device", "cuda"])
    assert exit_info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: --device cuda: " in err and "leave --device out to run on the CPU" in err
    assert "could not be loaded" not in err


def test_a_folder_without_audio_is_said_not_passed_over_in_silence(tiny_rnnt, tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("no audio here")
    for out in ([], ["--out", str(tmp_path / "out")]):
        assert cli.main([str(empty), "--model", tiny_rnnt, *out]) == cli.EXIT_SOME_FAILED
        assert capsys.readouterr().err.splitlines() == [  # and no notes on outputs that will not be written
            f"warning: {empty}: no audio or video files in this folder or below it.", "error: nothing to transcribe."]
    clip = wav(tmp_path / "a.wav", 1.0)
    code, lines = run_cli(str(empty), clip, clip, "--model", tiny_rnnt, "--json", "--device", "cpu")
    assert code == cli.EXIT_OK and [line["file"] for line in lines] == [clip]  # the file, once
    assert f"warning: {empty}: no audio or video files" in capsys.readouterr().err


def test_a_file_name_with_a_control_character_still_gets_its_word_document(tiny_rnnt, tmp_path):
    """Linux allows any byte but / in a name; XML (inside DOCX) does not allow control characters."""
    import docx

    odd, plain = wav(tmp_path / "take\x07one.wav", 1.0), wav(tmp_path / "b.wav", 1.0)
    out = tmp_path / "out"
    assert cli.main([odd, plain, "--model", tiny_rnnt, "--out", str(out), "--formats", "docx,txt"]) == cli.EXIT_OK
    assert sorted(path.name for path in out.glob("*.docx")) == ["b.docx", "take_one.docx"]
    document = docx.Document(str(out / "take_one.docx"))
    assert document.paragraphs[0].text == "takeone.wav" and "Source: takeone.wav" in document.paragraphs[1].text


def test_a_word_document_says_when_it_was_made_and_not_that_python_docx_wrote_it_in_2013(tiny_rnnt, tmp_path):
    """File > Properties in an office suite showed python-docx's template: author "python-docx", created 2013."""
    from datetime import datetime, timedelta, timezone

    import docx

    out = tmp_path / "out"
    assert cli.main([wav(tmp_path / "b.wav", 1.0), "--model", tiny_rnnt, "--out", str(out), "--formats", "docx"]) == 0
    document = docx.Document(str(out / "b.docx"))
    properties = document.core_properties
    assert "python-docx" not in (properties.author + properties.comments + properties.last_modified_by)
    assert abs(datetime.now(timezone.utc) - properties.created) < timedelta(minutes=5)
    assert properties.modified == properties.created and properties.title == "b.wav"
    assert f"Date: {properties.created.astimezone():%Y-%m-%d %H:%M}" in document.paragraphs[1].text  # it said none


def test_a_file_name_that_is_not_utf8_is_transcribed_written_resumed_and_saved(tiny_rnnt, tmp_path):
    """Archives copied from Latin-1 systems hold names such as caf\\xe9.wav, which Python sees with a lone surrogate."""
    folder = tmp_path / "archive"
    folder.mkdir()
    odd = folder / os.fsdecode(b"caf\xe9.wav")
    Path(wav(folder / "plain.wav", 1.0)).rename(odd)
    wav(folder / "b.wav", 1.0)
    out, library = tmp_path / "out", tmp_path / "library.sqlite"
    run = [sys.executable, "-m", "transcriber", str(folder), "--model", tiny_rnnt, "--device", "cpu"]
    batch = subprocess.run([*run, "--out", str(out), "--library", str(library)], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr[-2000:]
    assert json.loads((out / "caf.json").read_text(encoding="utf-8"))["file"] == odd.name  # the escape reads back
    again = subprocess.run([*run, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "0 transcribed, 2 already done, 0 failed" in again.stderr
    from transcriber.library import Library

    assert sorted(entry.name for entry in Library(library).entries()) == ["b.wav", "caf\\udce9.wav"]
    printed = subprocess.run([*run, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert [json.loads(line)["file"] for line in printed.stdout.splitlines()] == [str(folder / "b.wav"), str(odd)]


@pytest.mark.skipif(os.name == "nt", reason="a POSIX terminal")
def test_in_a_terminal_an_error_is_shown_once(tmp_path):
    """In a terminal a file that failed was told twice, the result's own line on stdout and the same again on
    stderr; stderr repeats it only where the output goes elsewhere (a file, a pipe), and a JSON line still gets its
    sentence beside it."""
    import pty

    (tmp_path / "empty.wav").write_bytes(b"")
    for args, shown in ((["empty.wav"], 1), (["empty.wav", "--json"], 2)):
        controller, terminal = pty.openpty()
        run = subprocess.Popen([sys.executable, "-m", "transcriber", *args], cwd=tmp_path, stdin=subprocess.DEVNULL,
                               stdout=terminal, stderr=terminal, env={**os.environ, "PYTHONPATH": str(ROOT)})
        os.close(terminal)
        screen = b""
        with contextlib.suppress(OSError):  # the terminal closes when the command ends
            while chunk := os.read(controller, 4096):
                screen += chunk
        os.close(controller)
        assert run.wait(timeout=120) == cli.EXIT_SOME_FAILED
        assert screen.decode().count("the file is empty (0 bytes)") == shown, screen.decode()
    piped = subprocess.run([sys.executable, "-m", "transcriber", "empty.wav"], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert "error: empty.wav: the file is empty (0 bytes)" in piped.stdout  # where the result was to be
    assert "empty.wav: the file is empty (0 bytes)" in piped.stderr  # and for whoever reads the terminal


@pytest.mark.parametrize("command", [["transcriber", "--json", "--timestamps"], ["transcriber.library", "list"]])
def test_output_piped_into_head_ends_without_a_traceback(command, tiny_rnnt, tmp_path):
    """``... | head -1``: the reader stops early, and the command ends quietly instead of a BrokenPipeError."""
    if command[0] == "transcriber.library":
        from transcriber.library import Library
        from transcriber.types import Transcript

        library = Library(tmp_path / "library.sqlite")
        for n in range(500):  # 500 lines of 250 characters: more than a pipe holds
            library.save(Transcript("nine", duration=1.0, model="m"), name=f"{n:03d} {'long name ' * 22}.wav")
        library.close()
        args = [*command, "--library", str(tmp_path / "library.sqlite")]
    else:
        clips = [wav(tmp_path / f"clip{n}.wav", 30.0) for n in range(4)]  # about 90 KB of JSON
        args = [*command, *clips, "--model", tiny_rnnt]
    process = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout.read(10)  # the first bytes, as `head -c 10` reads them; then the reader is gone
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) != 0
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr[-2000:]


@pytest.mark.parametrize(("mode", "signal_name", "status"), [
    ("plain", "SIGINT", 130), ("folder", "SIGINT", 130), ("folder", "SIGTERM", 143),
])
def test_ctrl_c_in_the_middle_ends_with_a_word_and_status_130(mode, signal_name, status, tiny_rnnt, tmp_path):
    """Ctrl+C while a model was transcribing printed a KeyboardInterrupt traceback (plain) and then aborted the process
    ("terminate called without an active exception", status 134): the interpreter's exit tore the model's worker
    thread down inside PyTorch. SIGTERM (kill, a cluster scheduler's time limit) ended a folder batch on the spot,
    without its summary; it stops as Ctrl-C does now, with 128 + 15."""
    import signal

    folder = tmp_path / "in"
    folder.mkdir()
    clips = [wav(folder / f"clip{n:02d}.wav", 60.0, level=0.01 + n / 1000) for n in range(12)]  # not copies
    args = [*clips, "--batch-size", "1"] if mode == "plain" else [str(folder), "--out", str(tmp_path / "out")]
    process = subprocess.Popen([sys.executable, "-m", "transcriber", *args, "--model", tiny_rnnt], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if mode == "plain":
        assert process.stdout.readline().startswith("== ")  # the first file is done, and shown at once
        assert process.poll() is None  # while the model is at work on the others
    else:
        while not (tmp_path / "out" / "clip00.txt").exists() and process.poll() is None:
            time.sleep(0.05)
    process.send_signal(getattr(signal, signal_name))
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr[-3000:]
    assert "Traceback" not in stderr and "terminate called" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    if mode == "plain":
        assert last == "Interrupted."
    else:
        assert last == f"Interrupted; finished files are in {tmp_path / 'out'}. Run the same command again to resume."
        # The summary is written on the way out, of the files the run had heard were done (one whose outputs were
        # being written when the stop came is done again by the next run).
        summary = (tmp_path / "out" / "summary.csv").read_text(encoding="utf-8-sig")
        assert {row["status"] for row in csv.DictReader(io.StringIO(summary))} <= {"done"}


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_a_signal_set_to_be_ignored_stays_ignored():
    """Under nohup a closed terminal's SIGHUP must not stop a batch; SIGTERM still stops it as Ctrl-C does."""
    code = """
import signal
from transcriber.command import stop_on_signals
signal.signal(signal.SIGHUP, signal.SIG_IGN)
stop_on_signals()
print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, signal.getsignal(signal.SIGTERM).__name__)
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "_request_stop"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_is_said_by_its_status_even_where_a_library_turned_the_stop_into_its_own_ctrl_c():
    """Ray's ``get`` catches the stop raised in it and raises a KeyboardInterrupt of its own: a Ray batch that a
    cluster scheduler's SIGTERM stopped while the driver waited there exited 130, the status of Ctrl-C."""
    code = """
import os, signal, time
from transcriber.command import run_command

def main():
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # the stop arrives here
    except KeyboardInterrupt:
        raise KeyboardInterrupt  # the library's own
    return 0

run_command(main)
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stderr.strip()) == (143, "Interrupted.")


def test_results_are_shown_in_input_order_each_as_soon_as_those_before_it_are_done():
    """A result can come before those ahead of it (a file that cannot be read is known before the short files
    gathered ahead of it are done): it waits for them, and then goes at once."""
    from transcriber.types import FileResult

    shown = []
    in_order = cli.InputOrder(lambda result: shown.append(result.file))
    for index, name in [(1, "broken.wav"), (0, "a.wav"), (3, "d.wav"), (2, "c.wav")]:
        in_order(index, FileResult(name))
        shown.append("|")
    assert shown == ["|", "a.wav", "broken.wav", "|", "|", "c.wav", "d.wav", "|"]


UNSTOPPABLE_CALL = """
import sys, threading, time, torch
from transcriber.command import exit_now
from transcriber.watchdog import run_watched

started = threading.Event()

def work():  # PyTorch at work, with no encoder batch at which a guard could stop it
    started.set()
    x = torch.randn(600, 600)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        x = torch.tanh(x @ x)

threading.Thread(target=run_watched, args=(work,), kwargs=dict(timeout=120, cancel=None, what="w"), daemon=True).start()
started.wait()
time.sleep(0.3)
print("exiting", flush=True)
exit_now(3)
"""


def test_exiting_while_a_model_call_cannot_stop_ends_with_its_status_not_an_abort():
    """The interpreter's own exit tears a thread down wherever it is: inside PyTorch, that aborts the process."""
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", UNSTOPPABLE_CALL], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 3 and run.stdout == "exiting\n", run.stderr[-2000:]
    assert "terminate called" not in run.stderr
    assert time.monotonic() - started < 30  # it waited a moment for the call, not for the call to end


def test_a_real_process_prints_plain_text_on_a_terminal_quiet_unless_asked_for_nemos_log(tiny_tdt, tmp_path):
    clip = wav(tmp_path / "clip one.wav", 1.0)
    quiet = subprocess.run([sys.executable, "-m", "transcriber", clip, "--model", tiny_tdt, "--timestamps"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    lines = quiet.stdout.splitlines()
    assert lines[0] == f"== {clip}"
    assert lines[1].startswith("nine")
    assert lines[2].split() == ["[", "0.00", "-", "0.08]", "nine"]
    assert "[NeMo I" not in quiet.stderr and "[NeMo W" not in quiet.stderr and "Train config" not in quiet.stderr
    assert "override_config" not in quiet.stderr
    loud = subprocess.run([sys.executable, "-m", "transcriber", clip, "--model", tiny_tdt, "--timestamps",
                           "--verbose"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert loud.returncode == 0 and "[NeMo I" in loud.stderr
    assert loud.stdout == quiet.stdout


def test_a_file_without_speech_says_so_where_its_text_would_be(tiny_rnnt_blank, tmp_path):
    """A silent file printed its name over an empty line, as if the text had been lost."""
    out = io.StringIO()
    assert cli.main([wav(tmp_path / "quiet.wav", 1.0), "--model", tiny_rnnt_blank], out=out) == cli.EXIT_OK
    assert out.getvalue() == f"== {tmp_path / 'quiet.wav'}\n(No speech was recognised.)\n"


def test_subtitles_asked_for_without_timestamps_come_with_a_note_that_they_are_one_cue(tmp_path, tiny_rnnt, capsys):
    """The default --out writes SRT and VTT; without --timestamps each was one cue for the whole recording, silently."""
    clip = wav(tmp_path / "talk.wav", 1.0)
    assert cli.main([clip, "--model", tiny_rnnt, "--out", str(tmp_path / "plain")]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "without --timestamps there are no word timings: the SRT and VTT files will each hold one cue" in err
    assert (tmp_path / "plain" / "talk.srt").read_text(encoding="utf-8").count(" --> ") == 1
    assert cli.main([clip, "--model", tiny_rnnt, "--out", str(tmp_path / "timed"), "--timestamps"]) == cli.EXIT_OK
    assert cli.main([clip, "--model", tiny_rnnt, "--out", str(tmp_path / "text"), "--formats", "txt,json"]) == 0
    assert "--timestamps" not in capsys.readouterr().err


def test_the_installed_transcriber_command_runs_as_python_m_transcriber_does(tmp_path, monkeypatch, capsys):
    """pyproject's script pointed at cli.main itself: installed with pip, `transcriber` would have run without the
    program's handling of Ctrl-C, stop signals and a closed pipe (command.run_command)."""
    import importlib
    import signal
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, _, function = scripts["transcriber"].partition(":")
    monkeypatch.setattr(sys, "argv", ["transcriber", str(tmp_path / "missing.wav")])
    numbers = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    handlers = {number: signal.getsignal(number) for number in numbers}
    try:
        with pytest.raises(SystemExit) as exited:
            getattr(importlib.import_module(module), function)()
    finally:
        for number, handler in handlers.items():  # run_command takes them for the program; pytest's go back
            signal.signal(number, handler)
    assert exited.value.code == cli.EXIT_SOME_FAILED
    assert "missing.wav" in capsys.readouterr().err
