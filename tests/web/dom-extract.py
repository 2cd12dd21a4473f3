#!/usr/bin/env python3
"""Reads the DOM chromium dumped (--dump-dom) from stdin and prints, as JSON,
what the status page shows: header facts, banner, every grid cell's state
text, the detail pane and the DNS panel. The test asserts on this with jq.
Standard library only (html.parser)."""

import json
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []  # Node or str

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, tag=None, cls=None, pred=None):
        return [n for n in self.walk()
                if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and (pred is None or pred(n))]

    def find(self, tag=None, cls=None, pred=None):
        r = self.find_all(tag, cls, pred)
        return r[0] if r else None

    def by_id(self, ident):
        return self.find(pred=lambda n: n.attrs.get("id") == ident)


class Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def squash(s):
    return " ".join(s.split())


def main():
    b = Builder()
    b.feed(sys.stdin.read())
    doc = b.root
    out = {}

    def text_of(ident):
        n = doc.by_id(ident)
        return squash(n.text()) if n else None

    def hidden(ident):
        n = doc.by_id(ident)
        return None if n is None else ("hidden" in n.attrs)

    title = doc.find("title")
    out["title"] = squash(title.text()) if title else None
    for ident in ("identity", "version", "config", "ready", "updated", "summary"):
        out[ident] = text_of(ident)
    out["config_error"] = {"hidden": hidden("config-error"), "text": text_of("config-error")}
    out["banner"] = {"hidden": hidden("banner"), "text": text_of("banner")}
    main_el = doc.by_id("main")
    out["main_class"] = main_el.attrs.get("class", "") if main_el else None

    grid = doc.by_id("grid")
    cells, none_cells, froms = {}, [], []
    if grid:
        froms = [squash(th.text()) for th in grid.find_all("th", "from")]
        for tr in grid.find_all("tr"):
            th = tr.find("th", "to")
            if not th:
                continue
            name = th.find("span", "name")
            to = name.text() if name else ""
            for td in tr.find_all("td", "cell"):
                btn = td.find("button")
                if not btn:
                    none_cells.append(td.attrs.get("data-from", "") + "/" + to)
                    continue

                def part(c, btn=btn):
                    n = btn.find("span", c)
                    return squash(n.text()) if n else None

                cells[btn.attrs.get("data-key")] = {
                    "state": td.attrs.get("data-state"),
                    "text": part("state"),
                    "ev": part("ev"),
                    "lat": part("lat"),
                    "title": btn.attrs.get("title"),
                }
    out["froms"] = froms
    out["cells"] = cells
    out["none_cells"] = none_cells

    detail = doc.by_id("detail")
    out["detail"] = {
        "key": detail.attrs.get("data-key") if detail else None,
        "state": detail.attrs.get("data-state") if detail else None,
        "text": squash(detail.text()) if detail else None,
        "addresses": [[squash(td.text()) for td in tr.find_all("td")]
                      for tr in (detail.find_all("tr") if detail else []) if tr.find("td")],
    }

    dns = doc.by_id("dns")
    out["dns"] = {
        "empty": bool(dns and dns.find("p", "empty")),
        "text": squash(dns.text()) if dns else None,
        "targets": [{"to": card.attrs.get("data-to"), "state": card.attrs.get("data-state"),
                     "head": squash(card.find("div", "dns-head").text()) if card.find("div", "dns-head") else "",
                     "servers": [[squash(td.text()) for td in tr.find_all("td")]
                                 for tr in card.find_all("tr") if tr.find("td")]}
                    for card in (dns.find_all("div", "dns-target") if dns else [])],
    }

    # What a successful injection would have produced.
    out["elements"] = {
        "img": len(doc.find_all("img")),
        "b": len(doc.find_all("b")),
        "script_srcs": [s.attrs.get("src") for s in doc.find_all("script")],
        "inline_scripts": sum(1 for s in doc.find_all("script") if "src" not in s.attrs),
        "style_elements": len(doc.find_all("style")),
        "style_attrs": sum(1 for n in doc.walk() if "style" in n.attrs),
        "event_attrs": sum(1 for n in doc.walk() for a in n.attrs if a.startswith("on")),
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
