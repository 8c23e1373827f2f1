"""The file view of a system: the IFS, plus /QSYS.LIB where save files appear as files.

`/QSYS.LIB/LIB.LIB/NAME.FILE` is the save file NAME in library LIB (read and write its
bytes, as SFTP and FTP do on a real system); a save file must be created (CRTSAVF) before it
can be written. Other /QSYS.LIB objects can be listed and stat'ed but not read.
Used by SFTP, the agent's LabHost, QSH and CRTBNDCL.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .state import IbmiState, IfsError, LibObject, normpath

_QSYS = re.compile(r"/QSYS\.LIB(?:/([^/]+)\.LIB(?:/([^/]+)\.([^/.]+))?)?/?", re.IGNORECASE)


@dataclass
class FileStat:
    kind: str                 # file | dir
    size: int
    mode: int
    mtime: float


class SystemFiles:
    def __init__(self, state: IbmiState):
        self.state = state
        self.ifs = state.ifs

    def _qsys(self, path: str) -> Optional[Tuple[Optional[str], Optional[str], Optional[str]]]:
        match = _QSYS.fullmatch(path)
        if match is None:
            return None
        lib, name, obj_type = match.groups()
        return (lib.upper() if lib else None, name.upper() if name else None,
                "*" + obj_type.upper() if obj_type else None)

    def _object(self, path: str) -> Tuple[Optional[str], Optional[LibObject], bool]:
        """(library, object, is a /QSYS.LIB path) for PATH."""
        parts = self._qsys(path)
        if parts is None:
            return None, None, False
        lib, name, obj_type = parts
        if lib is not None and lib not in self.state.libraries:
            raise IfsError("ENOENT", path)
        if name is None:
            return lib, None, True
        obj = self.state.libraries[lib].get(name, obj_type or "")
        if obj is None and obj_type == "*FILE":
            obj = self.state.libraries[lib].get(name, "*SAVF")
        if obj is None:
            raise IfsError("ENOENT", path)
        return lib, obj, True

    # ------------------------------------------------------------------ reading

    def read(self, path: str) -> bytes:
        path = normpath(path)
        _, obj, qsys = self._object(path)
        if not qsys:
            return self.ifs.read(path)
        if obj is None:
            raise IfsError("EISDIR", path)
        if obj.type != "*SAVF":
            raise IfsError("EACCES", path)
        return obj.data

    def stat(self, path: str) -> FileStat:
        path = normpath(path)
        _, obj, qsys = self._object(path)
        if not qsys:
            node = self.ifs.node(path)
            if node is None:
                raise IfsError("ENOENT", path)
            return FileStat(node.kind, len(node.data), node.mode, node.mtime)
        if obj is None:
            return FileStat("dir", 0, 0o755, time.time())
        return FileStat("file", len(obj.data) if obj.type == "*SAVF" else obj.size, 0o644, time.time())

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except IfsError:
            return False

    def list_dir(self, path: str) -> List[str]:
        path = normpath(path)
        parts = self._qsys(path)
        if parts is None:
            return self.ifs.list_dir(path)
        lib, name, _ = parts
        if name is not None:
            raise IfsError("ENOTDIR", path)
        if lib is None:
            return sorted(f"{n}.LIB" for n in self.state.libraries)
        if lib not in self.state.libraries:
            raise IfsError("ENOENT", path)
        return sorted(o.name + "." + ("FILE" if o.type == "*SAVF" else o.type.lstrip("*"))
                      for o in self.state.libraries[lib].objects.values())

    # ------------------------------------------------------------------ writing

    def write(self, path: str, data: bytes, mode: Optional[int] = None, append: bool = False) -> None:
        path = normpath(path)
        _, obj, qsys = self._object_for_write(path)
        if not qsys:
            self.ifs.write(path, data, mode, append)
            return
        obj.data = (obj.data + bytes(data)) if append else bytes(data)

    def _object_for_write(self, path: str) -> Tuple[Optional[str], Optional[LibObject], bool]:
        lib, obj, qsys = self._object(path)
        if qsys and (obj is None or obj.type != "*SAVF"):
            raise IfsError("EACCES", path)
        return lib, obj, qsys

    def remove(self, path: str) -> None:
        path = normpath(path)
        lib, obj, qsys = self._object_for_write(path)
        if not qsys:
            self.ifs.remove(path)
            return
        del self.state.libraries[lib].objects[obj.key]

    def make_dirs(self, path: str) -> None:
        path = normpath(path)
        if self._qsys(path) is not None:
            if not self.exists(path):
                raise IfsError("EACCES", path)
            return
        self.ifs.make_dirs(path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        path = normpath(path)
        if self._qsys(path) is not None:
            raise IfsError("EACCES", path)
        self.ifs.mkdir(path, mode)

    def rmdir(self, path: str) -> None:
        path = normpath(path)
        if self._qsys(path) is not None:
            raise IfsError("EACCES", path)
        self.ifs.rmdir(path)

    def rename(self, old: str, new: str, overwrite: bool = True) -> None:
        old, new = normpath(old), normpath(new)
        if self._qsys(old) is not None or self._qsys(new) is not None:
            raise IfsError("EACCES", old)
        self.ifs.rename(old, new, overwrite)

    def chmod(self, path: str, mode: int) -> None:
        path = normpath(path)
        if self._qsys(path) is not None:
            return
        node = self.ifs.node(path)
        if node is None:
            raise IfsError("ENOENT", path)
        node.mode = mode & 0o7777
