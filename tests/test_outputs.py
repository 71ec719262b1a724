
import pytest

from transcriber.outputs import ALL_FORMATS, atomic_write_text, safe_stem, write_transcript
from transcriber.types import Segment, Transcript, Word


def test_an_output_keeps_the_name_of_its_recording_so_a_player_loads_the_subtitles_with_the_video():
    """mpv loads ``NAME.srt`` with ``NAME.mp4`` by the exact name, VLC by a name holding the video's: "My talk
    (final).mp4" got ``My_talk_final.srt``, which neither loads."""
    assert safe_stem("/uploads/My talk (final).mp4") == "My talk (final)"
    assert safe_stem("50% done #1 & Tom's [x], ü+é=ok.wav") == "50% done #1 & Tom's [x], ü+é=ok"
    assert safe_stem("interview.2024-05-01.wav") == "interview.2024-05-01"
    assert safe_stem("/x/???.wav") == "audio"
    assert safe_stem("/x/Größe: 日本語 メモ?.m4a") == "Größe_ 日本語 メモ"  # Windows takes no ":" or "?"
    assert safe_stem("a" * 500 + ".wav") == "a" * 120
    assert safe_stem("con.wav") == "_con" and safe_stem("Com1.x.wav") == "_Com1.x" and safe_stem("nul .wav") == "_nul"


def test_a_long_name_in_a_script_of_several_bytes_a_letter_still_makes_files(tmp_path):
    """82 Japanese characters (246 bytes): the stem was cut at 80 characters, 240 bytes, and the name a file is
    written under first came to 260 bytes, over the 255 a file system takes: "File name too long"."""
    name = ("会議の記録" * 17)[:82] + ".wav"
    stem = safe_stem(name)
    assert name.startswith(stem) and len(stem.encode("utf-8")) <= 200
    transcript = Transcript("hi", (Word("hi", 0.0, 0.3),), (Segment("hi", 0.0, 0.3),), 1.0, "m")
    written = write_transcript(transcript, tmp_path, f"{stem}-99", source_name=name, formats=ALL_FORMATS)
    assert [path.name for path in written] == [f"{stem}-99.{fmt}" for fmt in ALL_FORMATS]


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "a/../../b.wav", 'q"<>|*?.wav', "C:\\x\\y.wav", " .wav",
                                  "a\tb\nc.wav", " . x . .wav", "caf\udce9.wav"])
def test_safe_stem_never_escapes_or_uses_forbidden_characters(name):
    stem = safe_stem(name)
    assert stem and stem != ".." and not stem.startswith((".", " ")) and not stem.endswith((".", " "))
    assert not set(stem) & set('/\\:*?"<>|\t\n') and stem.encode("utf-8")  # whole UTF-8: no lone surrogate


def test_write_transcript_writes_every_format_and_no_temporary_files(tmp_path):
    transcript = Transcript("hi there", (Word("hi", 0.0, 0.3), Word("there", 0.4, 0.8)), (Segment("hi there", 0.0, 0.8),), 1.0, "m")
    paths = write_transcript(transcript, tmp_path, "talk", source_name="talk.wav")
    assert [p.name for p in paths] == ["talk.txt", "talk.srt", "talk.vtt", "talk.json", "talk.csv"]
    assert paths[0].read_text(encoding="utf-8") == "hi there\n"
    assert '"file": "talk.wav"' in paths[3].read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_csv_opens_in_a_spreadsheet_with_its_accents_and_the_other_formats_have_no_mark(tmp_path):
    transcript = Transcript("Zoë a dit café", (), (Segment("Zoë a dit café", 0.0, 1.2),), 1.5, "m")
    written = write_transcript(transcript, tmp_path, "zoë", source_name="zoë.wav")
    paths = dict(zip(("txt", "srt", "vtt", "json", "csv"), written, strict=True))
    data = paths["csv"].read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8's mark: without it Excel reads "ZoÃ«"
    assert data.decode("utf-8-sig") == "start,end,text\n0.000,1.200,Zoë a dit café\n"
    assert all(not paths[fmt].read_bytes().startswith(b"\xef\xbb\xbf") for fmt in ("txt", "srt", "vtt", "json"))


def test_an_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def explode(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", explode)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
