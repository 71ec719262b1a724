"""With logins, the line at the top of the page: who is logged in, and **Log out**.

No ``from __future__ import annotations`` here: Gradio finds the ``gr.Request`` parameter by its annotation, which
must be the class itself, not a string.
"""

import re

from .widgets import owner_of

LOGOUT_LINK = "logout?all_session=false"
"""Gradio's log-out route, for this browser's session only (``all_session`` would end the user's others too).
Relative, so that it also works under a proxy's path prefix; it returns to the login page."""
MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def markdown_text(text: str) -> str:
    """``text`` shown as it is in Markdown: its punctuation escaped, so a login such as ``*ann*`` is not emphasis."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def account_line(demo) -> None:
    """Who is logged in, and **Log out** (this browser only: the user's other sessions stay), so that the next
    person at a shared computer can log in as themselves."""
    import gradio as gr

    def logged_in(request: gr.Request) -> str:
        return f"Logged in as **{markdown_text(owner_of(request))}**"

    with gr.Row(elem_id="account", equal_height=True):
        who = gr.Markdown(elem_id="account-user")
        gr.Button("Log out", link=LOGOUT_LINK, size="sm", scale=0, min_width=100, elem_id="log-out")
    demo.load(logged_in, None, who, queue=False, api_visibility="private", show_progress="hidden")
