"""The pool: the same run on a hand-written concurrent.futures pool (command.py, the
pool command; workers.py, its ProcessPoolExecutor). Imports the stages below it."""
