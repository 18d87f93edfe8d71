"""What an image becomes: open, decode once, resize, orient, pad, encode (the resize:
transform.py), with its geometry, resampler and pixel modes. Imports nothing else of imageprep."""
