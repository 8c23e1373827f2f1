# The top-level data/ folder ships inside the package as flash4i_tui.data (demo topology,
# sample configuration, CL source of the startup wrapper); pyproject.toml cannot express
# "found packages plus one mapped folder", so the package list is built here.
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["flash4i_tui", "flash4i_tui.*", "screens", "screens.*"]) + ["flash4i_tui.data"],
    package_dir={"flash4i_tui.data": "data"},
)
