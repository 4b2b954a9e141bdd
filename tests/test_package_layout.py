"""The package's layers (docs/architecture.md): ``import glassnet`` loads the library, not the application."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_glassnet_loads_no_plotting_and_no_command_line_module():
    loaded = _modules_after("import glassnet")
    assert "glassnet.models" in loaded and "glassnet.diagnostics" in loaded  # the check itself can fail
    assert not {m for m in loaded if m == "matplotlib" or m.startswith("matplotlib.")}
    assert not {m for m in loaded if m.startswith("glassnet.app")}
    assert "argparse" not in loaded


def test_public_names_stay_importable():
    import glassnet as gn

    for name in ("Sequential", "Model", "load_model", "Parameter", "register_layer"):
        assert hasattr(gn, name), name
    for module in ("layers", "optimizers", "losses", "callbacks", "diagnostics", "datasets", "preprocessing",
                   "activations", "initializers", "regularizers", "schedules", "metrics"):
        assert hasattr(gn, module), module
    assert gn.layers.register_layer is gn.register_layer


def test_every_registry_family_resolves_its_classes():
    from glassnet._registry import families

    found = families()
    for name in ("layer", "activation", "loss", "metric", "optimizer", "initializer", "regularizer", "schedule",
                 "callback", "scaler"):
        assert name in found, name
        for cls_name, cls in found[name].classes().items():
            assert found[name].lookup_class(cls_name) is cls
