"""Every request the web server gets counts as activity for background work (explorer/views/traffic.py),
in the app as launched."""

from __future__ import annotations

import urllib.request

import gradio as gr
import pytest

from explorer import cores

from builders import launched


@pytest.fixture
def occupancy(monkeypatch):
    monkeypatch.setattr(cores, "RUNNING", cores.Occupancy())


def test_a_page_served_by_the_launched_app_is_seen(occupancy):
    with gr.Blocks() as demo:
        gr.Markdown("hello")
    port = launched(demo)
    try:
        assert cores.RUNNING.wait_quiet(0.5, longest=30)  # quiet once launched
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config") as response:
            assert response.status == 200
        assert not cores.RUNNING.wait_quiet(60, longest=0)  # the config request was seen
    finally:
        demo.close()
