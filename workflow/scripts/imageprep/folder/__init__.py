"""What an output folder keeps, and how it is read: the manifest and its rows, the
variants' folders and tars, what is current, the lock, the closing line, the report. Every
path under an output folder is named in layout.py. Imports only imageprep.image."""
