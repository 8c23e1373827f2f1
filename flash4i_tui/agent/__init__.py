"""The clone-side agent: runs on IBM i (PASE, Python 3.9) at IPL. Standard library only."""
