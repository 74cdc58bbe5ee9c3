"""A rep's private OPML file: one outline per stream, one folder per account.

Built with ElementTree so names such as "Smith & Sons <EU>" are escaped by the
XML library, never by hand. Folders are one level deep because several feed
readers flatten or drop deeper nesting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from aggregator.config.schema import RepConfig
from aggregator.outputs.feeds import clean_text
from aggregator.outputs.streams import StreamRef, rep_streams, resolve_stream

__all__ = ["OPML_FORMAT", "OPML_MEDIA_TYPE", "render_opml"]

OPML_MEDIA_TYPE = "text/x-opml; charset=utf-8"
#: The feed format OPML subscriptions point at: Atom has mandatory ids and update times.
OPML_FORMAT = "atom"


def render_opml(rep: RepConfig, names: Mapping[str, str], stream_url: Callable[[StreamRef, str], str],
                home_url: str) -> bytes:
    """OPML 2.0 for ``rep``; ``stream_url(ref, fmt)`` gives each stream's private address."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = clean_text(f"funnelfeed: feeds for {rep.name}")
    ET.SubElement(head, "ownerName").text = clean_text(rep.name)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for ref in rep_streams(rep):
        stream = resolve_stream(rep, ref, names)
        if stream is None:
            continue
        folder = folders.get(stream.folder)
        if folder is None:
            label = clean_text(stream.folder)
            folder = folders[stream.folder] = ET.SubElement(body, "outline", text=label, title=label)
        title = clean_text(stream.title)
        ET.SubElement(folder, "outline", type="rss", text=title, title=title,
                      description=clean_text(stream.description),
                      xmlUrl=stream_url(ref, OPML_FORMAT), htmlUrl=home_url)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
