"""What an output folder keeps, and how it is read: the manifest and its rows, the
variants' folders, what is current, the lock, the closing line, the report; and, in
writers/, how outputs are kept (one writer per container). Every path under an output
folder is named in layout.py. Imports only imageprep.image."""
