"""The library through the page's API (gradio_client), with a real tiny model: saving, listing, searching,
reopening, exporting, renaming and deleting; logins that keep users apart; a save that fails loses nothing."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import httpx
import pytest

from audio_fixtures import write_text, write_tone
from test_library import fill_disk, interview
from transcriber.engine import Engine
from transcriber.library import Library

pytestmark = pytest.mark.integration

FRAME_S = 0.08
USERS = {"alice": "alice-password", "bob": "bob-password"}


def file_arg(path) -> dict:
    from gradio_client import handle_file

    return handle_file(str(path))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "one": write_tone(folder / "one.wav", seconds=1.0),
        "two": write_tone(folder / "two.wav", seconds=2.0),
        "bad": write_text(folder / "bad.wav"),
    }


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return Library(tmp_path_factory.mktemp("library") / "library.sqlite")


@pytest.fixture(scope="module")
def url(launch_app, tiny_rnnt, library):
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library)


@pytest.fixture
def client(url, tmp_path):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(tmp_path))


def rows(client, query: str = "") -> list[list]:
    return client.predict(query, api_name="/library")["data"]


def test_a_transcription_is_saved_listed_and_reopened_equal(client, clips, library):
    text, _, words, _, saved = client.predict(file_arg(clips["two"]), timestamps=True, api_name="/transcribe")
    newest = rows(client)[0]
    assert newest[:2] == [saved, "two.wav"] and newest[3] == 2.0
    data = client.predict(saved, api_name="/get_transcript")
    assert (data["id"], data["name"], data["file"], data["edited"]) == (saved, "two.wav", "two.wav", False)
    assert data["text"] == text and len(data["words"]) == len(words["value"]["data"]) == round(2.0 / FRAME_S)
    assert [[w["word"], round(w["start"], 3), round(w["end"], 3)] for w in data["words"]] == words["value"]["data"]
    assert data["created"].endswith("Z") and data["model"].endswith(".nemo")
    # The audio was copied into the library, so it outlives Gradio's upload cache.
    assert library.media_path(saved).read_bytes() == Path(clips["two"]).read_bytes()


def test_a_batch_saves_its_good_files_only(client, clips):
    before = len(rows(client))
    status, _, _, saved = client.predict(
        [file_arg(clips["one"]), file_arg(clips["bad"]), file_arg(clips["two"])], api_name="/transcribe_batch"
    )
    assert [row[2] == "done" for row in status["data"]] == [True, False, True]
    assert len(saved) == 2
    listed = rows(client)
    assert len(listed) == before + 2 and {row[0] for row in listed[:2]} == set(saved)
    assert "bad.wav" not in {row[1] for row in listed[:2]}


def test_search_finds_words_with_a_snippet_and_the_time_of_the_hit(client, clips):
    *_, saved = client.predict(file_arg(clips["one"]), timestamps=True, api_name="/transcribe")
    assert client.predict(saved, " Quarterly\nreview ", api_name="/rename_transcript") == "Quarterly review"
    hits = rows(client, "nin*")
    assert saved in [row[0] for row in hits]
    hit = next(row for row in hits if row[0] == saved)
    assert hit[1] == "Quarterly review" and "**nine**" in hit[7] and hit[8] == 0.0
    assert rows(client, "budget") == []


@pytest.mark.parametrize("fmt", ["txt", "srt", "vtt", "json", "csv", "docx"])
def test_a_stored_transcript_exports_in_every_format(client, clips, fmt):
    import docx

    text, *_, saved = client.predict(file_arg(clips["one"]), timestamps=True, api_name="/transcribe")
    path = Path(client.predict(saved, fmt, api_name="/export_transcript"))
    assert path.name == f"one.{fmt}"
    if fmt == "docx":
        document = docx.Document(io.BytesIO(path.read_bytes()))
        paragraphs = [paragraph.text for paragraph in document.paragraphs]
        assert paragraphs[0] == "one.wav" and paragraphs[1].startswith("Source: one.wav")
        # File > Properties: when the transcript was made, as the library says, not python-docx's template's date
        created = f"{document.core_properties.created.astimezone():%Y-%m-%d %H:%M}"
        assert f"Date: {created}" in paragraphs[1] and document.core_properties.author == ""
        assert any(text in paragraph for paragraph in paragraphs[2:]) and paragraphs[2].startswith("00:00:00\n")
    elif fmt == "json":
        assert json.loads(path.read_text(encoding="utf-8"))["text"] == text
    else:
        assert "nine" in path.read_text(encoding="utf-8")


def test_the_whole_library_or_a_search_exports_as_one_zip(launch_app, tiny_rnnt, clips, tmp_path):
    """Getting every transcript out of the page (a backup as documents, every recording's subtitles) took one
    Export per transcript, each opened first. Export all writes what the search finds, or everything, into a zip."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    library = Library(tmp_path / "library.sqlite")
    client = Client(launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library), verbose=False,
                    download_files=str(tmp_path / "downloads"))
    with pytest.raises(AppError, match="The library holds no transcripts yet"):
        client.predict("", "srt", api_name="/export_library")
    for clip in ("one", "two", "one"):
        client.predict(file_arg(clips[clip]), timestamps=True, api_name="/transcribe")
    first, second, again = [entry.id for entry in reversed(library.entries())]
    library.rename(second, "Board meeting")
    with zipfile.ZipFile(client.predict("", "srt", api_name="/export_library")) as exported:
        assert exported.namelist() == ["one.srt", "Board meeting.srt", "one-2.srt"]  # oldest first, none overwritten
        for name, transcript_id in zip(exported.namelist(), (first, second, again), strict=True):
            assert exported.read(name).decode("utf-8") == Path(
                client.predict(transcript_id, "srt", api_name="/export_transcript")).read_text(encoding="utf-8")
    with zipfile.ZipFile(client.predict("board", "docx", api_name="/export_library")) as exported:
        assert exported.namelist() == ["Board meeting.docx"]
    with pytest.raises(AppError, match="No transcript matches the search: nothing to export"):
        client.predict("nowhere", "txt", api_name="/export_library")


def test_a_deleted_transcript_is_gone_with_its_audio(client, clips, library):
    from gradio_client.exceptions import AppError

    *_, saved = client.predict(file_arg(clips["two"]), api_name="/transcribe")
    media = library.media_path(saved)
    shared = [entry.id for entry in library.entries() if entry.id != saved and library.media_path(entry.id) == media]
    client.predict(saved, api_name="/delete_transcript")
    assert saved not in [row[0] for row in rows(client)]
    with pytest.raises(AppError, match=f"no transcript {saved}"):
        client.predict(saved, api_name="/get_transcript")
    with pytest.raises(AppError, match=f"no transcript {saved}"):
        client.predict(saved, "txt", api_name="/export_transcript")
    assert media.is_file() == bool(shared)  # the same file saved earlier keeps its audio; else it is deleted
    for other in shared:
        client.predict(other, api_name="/delete_transcript")
    assert not media.exists()


@pytest.mark.parametrize("endpoint, extra", [("/get_transcript", ()), ("/export_transcript", ("txt",)),
                                             ("/rename_transcript", ("new name",)), ("/delete_transcript", ())])
def test_a_call_without_a_transcript_id_says_so_in_a_sentence(client, endpoint, extra):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"^Open a transcript first \(its id is the first column"):
        client.predict(None, *extra, api_name=endpoint)


def test_a_save_that_fails_keeps_the_result_and_its_downloads(launch_app, tiny_rnnt, clips, tmp_path):
    from gradio_client import Client

    library = Library(tmp_path / "library.sqlite")
    shutil.rmtree(library.media_dir)
    library.media_dir.write_text("a file where the media folder should be")  # every audio copy fails
    client = Client(launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library), verbose=False,
                    download_files=str(tmp_path))
    text, _, _, downloads, saved = client.predict(file_arg(clips["one"]), api_name="/transcribe")
    assert text.startswith("nine") and saved is None
    assert {Path(path).suffix for path in downloads} == {".txt", ".srt", ".vtt", ".json", ".csv", ".docx"}
    status, _, downloads, saved = client.predict([file_arg(clips["two"])], api_name="/transcribe_batch")
    assert status["data"][0][2] == "done" and saved == [] and downloads[0].endswith("transcripts.zip")


def test_without_a_library_the_page_works_and_says_nothing_is_saved(launch_app, tiny_rnnt, clips, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=False), verbose=False)
    text, *_, saved = client.predict(file_arg(clips["one"]), api_name="/transcribe")
    assert text.startswith("nine") and saved is None
    with pytest.raises(AppError, match="library is off"):
        client.predict("", api_name="/library")


# --- Logins -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_app(launch_app, tiny_rnnt, tmp_path_factory):
    from transcriber_ui.auth import checker

    library = Library(tmp_path_factory.mktemp("shared") / "library.sqlite")
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library, auth=checker(USERS)), library


def login(url: str, user: str, tmp_path: Path):
    from gradio_client import Client

    return Client(url, auth=(user, USERS[user]), verbose=False, download_files=str(tmp_path / user))


def test_without_a_login_nothing_is_served(shared_app):
    url, _ = shared_app
    assert httpx.get(f"{url}config").status_code == 401
    assert httpx.post(f"{url}login", data={"username": "alice", "password": "wrong"}).status_code == 400


def test_logged_in_users_see_only_their_own_transcripts_and_audio(shared_app, clips, tmp_path):
    from gradio_client.exceptions import AppError

    url, library = shared_app
    alice, bob = login(url, "alice", tmp_path), login(url, "bob", tmp_path)
    *_, hers = alice.predict(file_arg(clips["two"]), timestamps=True, api_name="/transcribe")
    *_, his = bob.predict(file_arg(clips["one"]), api_name="/transcribe")
    assert [row[0] for row in rows(alice)] == [hers] and [row[0] for row in rows(bob)] == [his]
    assert [row[0] for row in rows(bob, "nine")] == [his]

    for guess in range(1, max(hers, his) + 5):  # by id, by guessing: nothing of alice's reaches bob
        if guess == his:
            continue
        for call in (lambda: bob.predict(guess, api_name="/get_transcript"),
                     lambda: bob.predict(guess, "txt", api_name="/export_transcript"),
                     lambda: bob.predict(guess, "mine", api_name="/rename_transcript"),
                     lambda: bob.predict(guess, api_name="/delete_transcript")):
            with pytest.raises(AppError, match=f"no transcript {guess}"):
                call()
    with zipfile.ZipFile(bob.predict("", "txt", api_name="/export_library")) as exported:  # all of his: his only
        assert exported.namelist() == ["one.txt"]
    entry, _ = library.get(hers, owner="alice")
    assert entry.name == "two.wav"  # not renamed, not deleted
    assert alice.predict(hers, api_name="/get_transcript")["id"] == hers

    # By file URL: the stored audio itself is never served, to anyone.
    media = library.media_path(hers, owner="alice")
    cookies = httpx.post(f"{url}login", data={"username": "bob", "password": USERS["bob"]}).cookies
    for path in (media, library.path):
        response = httpx.get(f"{url}gradio_api/file={path}", cookies=cookies)
        assert response.status_code == 403 and response.content != media.read_bytes()


def test_a_hashed_password_in_an_auth_file_logs_in(tmp_path):
    from transcriber_ui.auth import checker, hash_password, read_auth_file

    auth_file = tmp_path / "users.txt"
    auth_file.write_text(f"# who may log in\nanna:{hash_password('s3cret:with colon', iterations=1000)}\n\n"
                         "ben:plain:text\n", encoding="utf-8")
    check = checker(read_auth_file(auth_file))
    assert check("anna", "s3cret:with colon") and check("ben", "plain:text")
    assert not check("anna", "s3cret") and not check("ben", "plain") and not check("carl", "plain:text")
    assert "pbkdf2_sha256$" in auth_file.read_text() and "s3cret" not in auth_file.read_text()


def test_the_review_players_audio_is_served_in_ranges_to_its_owner_only(shared_app, clips, tmp_path):
    url, library = shared_app
    alice = login(url, "alice", tmp_path)
    *_, hers = alice.predict(file_arg(clips["two"]), api_name="/transcribe")
    audio = Path(clips["two"]).read_bytes()

    def cookies(user: str):
        return httpx.post(f"{url}login", data={"username": user, "password": USERS[user]}).cookies

    media = f"{url}library/media/{hers}"
    whole = httpx.get(media, cookies=cookies("alice"))
    assert whole.status_code == 200 and whole.content == audio
    part = httpx.get(media, cookies=cookies("alice"), headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == audio[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(audio)}"
    assert httpx.get(media, cookies=cookies("bob")).status_code == 404  # as for an id that does not exist
    assert httpx.get(media).status_code == 401
    assert httpx.get(f"{url}library/media/{hers + 1000}", cookies=cookies("alice")).status_code == 404


def test_review_changes_are_saved_for_the_owner_only(shared_app, clips, tmp_path):
    """The review view's server function, called as the page calls it (Gradio's component server)."""
    url, library = shared_app
    alice = login(url, "alice", tmp_path)
    *_, hers = alice.predict(file_arg(clips["one"]), timestamps=True, api_name="/transcribe")
    config = httpx.get(f"{url}config", cookies=httpx.post(
        f"{url}login", data={"username": "bob", "password": USERS["bob"]}).cookies).json()
    (review_id,) = [c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "library-review"]

    def call(user: str, change: dict) -> dict:
        jar = httpx.post(f"{url}login", data={"username": user, "password": USERS[user]}).cookies
        response = httpx.post(f"{url}gradio_api/component_server", cookies=jar, json={
            "data": change, "component_id": review_id, "fn_name": "review_op", "session_hash": "test"})
        assert response.status_code == 200, response.text
        return response.json()

    refused = call("bob", {"op": "edit", "id": hers, "version": 1, "paragraph": 0, "text": "hacked"})
    assert "no transcript" in refused["error"] and library.get(hers, owner="alice")[1].text.startswith("nine")
    done = call("alice", {"op": "edit", "id": hers, "version": 1, "paragraph": 0, "text": "nine is right"})
    assert done["state"]["version"] == 2 and library.get(hers, owner="alice")[1].text == "nine is right"
    stale = call("alice", {"op": "edit", "id": hers, "version": 1, "paragraph": 0, "text": "late"})
    assert "changed elsewhere" in stale["error"] and stale["state"]["version"] == 2


def test_a_correction_on_a_full_disk_says_why_in_the_review_view(tmp_path):
    """The review view's server function, in this thread: the library's disk fills after the transcript was saved."""
    from types import SimpleNamespace

    from transcriber_ui.review import make_review_op

    library = Library(tmp_path / "library.sqlite")
    kept = library.save(interview(), name="call.wav")
    fill_disk(library)
    review_op = make_review_op(SimpleNamespace(library=library))
    answer = review_op({"op": "edit", "id": kept, "version": 1, "paragraph": 1, "text": "budget " * 20_000},
                       SimpleNamespace(username=""))
    assert answer["error"] == (f"The change was not saved: The library {library.path} could not be written: its disk "
                               "is full. Nothing was changed.")  # what the view says, not "The change was not saved."
    assert library.get(kept)[1] == interview()
    library.close()


def test_a_transcript_found_by_a_speakers_name_opens_where_that_speaker_talks():
    """Opened from a search for "Anna" (a speaker so named in the review view), the view opened at the start and marked
    nothing on its timeline; it opens at her first turn, each of her turns marked, no word underlined."""
    from transcriber import editing
    from transcriber.types import Segment, Transcript, Word
    from transcriber_ui.review import search_hits

    words = tuple(Word(f"w{n}", n * 1.0, n * 1.0 + 0.5, "S1" if n % 4 < 2 else "S2") for n in range(8))
    segments = tuple(Segment(" ".join(w.text for w in words[k:k + 2]), words[k].start, words[k + 1].end,
                             words[k].speaker) for k in range(0, 8, 2))
    transcript = editing.rename_speaker(Transcript("", words, segments, 8.0, "m", ("S1", "S2")), "S2", "Anna Berg")
    assert search_hits(transcript, "anna") == ([2.0, 6.0], [])
    assert search_hits(transcript, "w5") == ([5.0], [5.0])  # a spoken word: as before
