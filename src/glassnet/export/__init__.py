"""Exporting trained models to other runtimes: ``export_onnx(model, path)`` (``glassnet[onnx]``)."""

from .onnx import CONVERTERS, converter, export_onnx, to_onnx

__all__ = ["CONVERTERS", "converter", "export_onnx", "to_onnx"]
