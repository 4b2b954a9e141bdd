"""The conv report section (glassnet.app.report_conv) and its pictures (glassnet.app.plotting_conv)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import plotting, plotting_conv, report_conv, run_report, runs

pytestmark = pytest.mark.skipif(not plotting.available(), reason="matplotlib is not installed")
L = gn.layers


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def conv_run(limit=120):
    layers = [{"type": "Conv2D", "filters": 6, "kernel_size": 3, "activation": "relu"},
              {"type": "MaxPooling2D"}, {"type": "Conv2D", "filters": 4, "kernel_size": 2, "padding": "same"},
              {"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
    return runs.setup({"data": {"name": "digits", "limit": limit}, "model": {"layers": layers},
                       "training": {"epochs": 1}})


def test_filters_are_drawn_one_tile_per_filter_and_only_for_2d_kernels(rng):
    fig = plotting_conv.plot_filters(rng.normal(size=(3, 3, 1, 5)))
    tiles = image_axes(fig)
    assert len(tiles) == 5 and tiles[0].images[0].get_array().shape == (3, 3)  # grey
    assert image_axes(plotting_conv.plot_filters(rng.normal(size=(3, 3, 3, 2))))[0].images[0].get_array().shape == (
        3, 3, 3)  # three input channels: colour
    assert len(image_axes(plotting_conv.plot_filters(rng.normal(size=(2, 2, 4, 70))))) == 64  # max_filters
    with pytest.raises(gn.ShapeError, match="plot_filters.*Conv1D"):
        plotting_conv.plot_filters(rng.normal(size=(3, 1, 4)))


def test_each_tile_is_scaled_to_its_own_range():
    tile = np.array([[2.0, 4.0], [6.0, 10.0]])
    np.testing.assert_allclose(plotting_conv._normalized(tile), (tile - 2.0) / 8.0)
    np.testing.assert_allclose(plotting_conv._normalized(np.ones((2, 2))), 0.5)  # constant: mid grey


def test_misclassified_grid_titles_name_true_and_predicted_labels(rng):
    images = rng.random((6, 5, 5, 1))
    y_true, y_pred = np.array([0, 1, 2, 3, 4, 5]), np.array([0, 7, 2, 3, 9, 5])
    fig = plotting_conv.plot_misclassified(images, y_true, y_pred)
    assert [ax.get_title() for ax in image_axes(fig)] == ["true 1\npred 7", "true 4\npred 9"]
    np.testing.assert_allclose(image_axes(fig)[0].images[0].get_array(), plotting_conv._normalized(images[1, :, :, 0]))
    named = plotting_conv.plot_misclassified(images, y_true, y_pred, class_names=[f"c{k}" for k in range(10)])
    assert image_axes(named)[1].get_title() == "true c4\npred c9"
    assert not image_axes(plotting_conv.plot_misclassified(images, y_true, y_true))
    with pytest.raises(gn.ShapeError, match="plot_misclassified"):
        plotting_conv.plot_misclassified(images[:, :, :, 0], y_true, y_pred)


def test_channel_fractions_are_one_bar_per_channel_per_layer():
    rows = [{"epoch": 2, "layer": "conv2d", "activation": "relu", "channel": c, "dead_fraction": d,
             "saturated_fraction": 0.0} for c, d in enumerate([0.1, 1.0, 0.4])]
    rows += [{"epoch": 2, "layer": "conv2d_1", "activation": "tanh", "channel": c, "dead_fraction": 0.0,
              "saturated_fraction": s} for c, s in enumerate([0.5, 0.25])]
    fig = plotting_conv.plot_channel_fractions(rows)
    heights = [[bar.get_height() for bar in ax.patches] for ax in fig.axes if ax.patches]
    assert heights == [[0.1, 1.0, 0.4], [0.5, 0.25]]
    with pytest.raises(ValueError, match="no channel rows"):
        plotting_conv.plot_channel_fractions([])


def test_feature_maps_are_each_conv_layers_output_for_one_image():
    run = conv_run()
    convs = report_conv.conv_layers(run.model)
    assert [type(layer).__name__ for _, layer in convs] == ["Conv2D", "Conv2D"]
    image = run.data.x_test[3]
    maps = report_conv.feature_maps(run.model, image, convs)
    first, pool, second = run.model.layers[:3]
    expected_1 = first.forward(image[None], training=False)
    expected_2 = second.forward(pool.forward(expected_1, training=False), training=False)
    assert [name for name, _ in maps] == [path for path, _ in convs]
    np.testing.assert_array_equal(maps[0][1], expected_1[0])
    np.testing.assert_array_equal(maps[1][1], expected_2[0])
    fig = plotting_conv.plot_feature_maps(image, maps)
    assert len(image_axes(fig)) == 1 + 6 + 4  # the input, then every channel of both layers


def test_transposed_kernels_are_shown_as_in_channels_by_filters(rng):
    layer = L.Conv2DTranspose(5, 3)
    layer.build((4, 4, 2))
    assert layer.kernel.value.shape == (3, 3, 5, 2)
    np.testing.assert_array_equal(report_conv.filter_kernel(layer), layer.kernel.value.transpose(0, 1, 3, 2))


def test_section_only_for_conv_models_and_registered(tmp_path):
    assert report_conv.conv_section in run_report.SECTION_PROVIDERS
    dense = runs.setup({"data": {"name": "digits", "limit": 60}, "training": {"epochs": 1}})
    assert report_conv.conv_section(dense, tmp_path, {}, {}) is None
    title, html = report_conv.conv_section(conv_run(), tmp_path, {}, {})
    assert title == "Convolutional layers"
    assert html.count("<figure>") == 3 and "misclassified test images" in html
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "conv_feature_maps.png", "conv_filters.png", "misclassified.png"]


def test_section_is_left_out_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setattr(plotting, "available", lambda: False)
    assert report_conv.conv_section(conv_run(), tmp_path, {}, {}) is None
    assert not (tmp_path / "plots").exists()
