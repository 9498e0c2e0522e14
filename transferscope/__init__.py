"""transferscope: why a pre-trained network transfers well or badly."""
__version__ = "0.1.0"
