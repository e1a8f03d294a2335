"""The one compiled part of GAS (the annotator's output writer); the rest is in setup.cfg."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("annotator._lines", ["annotator/_lines.c"])])
