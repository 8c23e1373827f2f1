"""The 5250 palette as a Textual theme: every colour the panels show is named here once.

The stylesheet (flash4i.tcss) uses the theme's variables only (`$dds-wht`, `$background`, ...),
never a colour of its own; text that Rich styles in Python (section headings) takes its colour
from PALETTE. Every colour is in the xterm-256 cube, so a 256-colour SSH session shows the same
thing as a truecolor one. The names are the DDS COLOR keyword values an IBM i display file uses.
"""
from __future__ import annotations

from textual.theme import Theme

PALETTE = {
    "grn": "#00ff00",      # data, labels, input fields (underlined)
    "wht": "#ffffff",      # titles, column headings, More.../Bottom, messages
    "blu": "#8787ff",      # instructions, option legend, function-key legend
    "red": "#ff0000",      # failed states
    "ylw": "#ffff00",      # waiting states
    "blk": "#000000",      # the screen
    "selection": "#005f00",
}

HEADING_STYLE = f"bold {PALETTE['wht']}"     # a section heading inside a display panel's text

GREEN_SCREEN = Theme(
    name="flash4i-5250", dark=True, background=PALETTE["blk"], surface=PALETTE["blk"], panel=PALETTE["blk"],
    foreground=PALETTE["grn"], primary=PALETTE["grn"], secondary=PALETTE["blu"], accent=PALETTE["wht"],
    error=PALETTE["red"], warning=PALETTE["ylw"], success=PALETTE["grn"], boost=PALETTE["blk"],
    variables={**{f"dds-{name}": value for name, value in PALETTE.items() if name != "selection"},
               "block-cursor-text-style": "reverse", "footer-key-foreground": PALETTE["blu"],
               "input-cursor-background": PALETTE["grn"], "input-cursor-foreground": PALETTE["blk"],
               "input-cursor-text-style": "none", "input-selection-background": PALETTE["selection"]},
)
