"""The widgets the panels are built from: the lines of a 5250 panel (title, header, legends),
input fields and the command line, and the subfile list. They draw what `screens.layout` lays
out and know nothing of the store or of the application."""
from .fields import CommandLine, Field, PromptRow
from .lines import Legend, Lines, TitleLine
from .subfile import Subfile

__all__ = ["CommandLine", "Field", "Legend", "Lines", "PromptRow", "Subfile", "TitleLine"]
